//! The compile cache returns the same code for the same spec, stays bounded, and
//! compiled code is freed when its last handle goes.

use std::sync::{Arc, Barrier, Mutex};

use convc_core::{Border, ConvSpec, Image, Kernel, named};
use convc_jit::{CompiledConv, Jit, JitOptions, live_modules};

/// Tests here count process-wide modules: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn spec(i: usize) -> ConvSpec {
    ConvSpec::new(Kernel::new(1, 3, vec![1.0, i as f64 + 0.5, -1.0]).unwrap())
}

#[test]
fn compiled_conv_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<CompiledConv>();
    check::<Jit>();
}

#[test]
fn same_spec_same_code() {
    let _g = serial();
    let jit = Jit::new();
    let s = ConvSpec::new(named::build("gaussian", &[], Some((7, 7))).unwrap());
    let a = jit.compile(&s).unwrap();
    let b = jit.compile(&s.clone()).unwrap();
    assert!(a.same_code(&b));
    // The thread count is not part of the code; the anchor default is.
    let t = jit.compile(&s.clone().threads(3)).unwrap();
    assert!(a.same_code(&t));
    assert_eq!(t.threads(), Some(3));
    assert_eq!(
        t.plan().threads,
        None,
        "the plan is shared by every thread count"
    );
    assert!(a.same_code(&jit.compile(&s.clone().anchor(3, 3)).unwrap()));
    // Anything else is other code.
    assert!(!a.same_code(&jit.compile(&s.clone().border(Border::Zero)).unwrap()));
    assert!(!a.same_code(&jit.compile_uncached(&s).unwrap()));
    let stats = jit.cache_stats();
    assert_eq!((stats.entries, stats.hits, stats.misses), (2, 3, 2));
    // Clones of a Jit share the cache.
    assert!(a.same_code(&jit.clone().compile(&s).unwrap()));
    jit.clear_cache();
    assert!(!a.same_code(&jit.compile(&s).unwrap()));
}

#[test]
fn racing_compiles_agree_on_one_kernel() {
    let _g = serial();
    let jit = Jit::new();
    let s = ConvSpec::new(named::build("sobel_y", &[], Some((5, 5))).unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (jit, s, barrier) = (jit.clone(), s.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                jit.compile(&s).unwrap()
            })
        })
        .collect();
    let all: Vec<CompiledConv> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = jit.compile(&s).unwrap();
    assert!(all.iter().all(|c| c.same_code(&first)));
    assert_eq!(jit.cache_stats().entries, 1);
}

/// Total size of anonymous executable mappings of this process (Linux), where
/// JIT code lives.
#[cfg(target_os = "linux")]
fn executable_anon_bytes() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let path = f.nth(3);
            (perms.starts_with("r-x") && path.is_none()).then(|| {
                let (a, b) = range.split_once('-').unwrap();
                usize::from_str_radix(b, 16).unwrap() - usize::from_str_radix(a, 16).unwrap()
            })
        })
        .sum()
}

#[test]
fn ten_thousand_compiles_stay_bounded() {
    let _g = serial();
    let base_modules = live_modules();
    #[cfg(target_os = "linux")]
    let base_exec = executable_anon_bytes();
    let capacity = 16;
    let jit = Jit::with_options(JitOptions::default().cache_capacity(capacity)).unwrap();
    let src = Image::<f32>::from_fn(40, 3, |_, x| x as f32).unwrap();
    let mut kept = Vec::new();
    for i in 0..10_000 {
        let c = jit.compile(&spec(i)).unwrap();
        if i % 2500 == 0 {
            kept.push((i, c)); // held past its eviction
        }
        assert!(live_modules() <= base_modules + capacity + 4 + 1);
    }
    let stats = jit.cache_stats();
    assert_eq!(stats.entries, capacity);
    assert_eq!(stats.misses, 10_000);
    assert_eq!(stats.evictions, 10_000 - capacity as u64);
    assert_eq!(live_modules(), base_modules + capacity + kept.len());
    #[cfg(target_os = "linux")]
    {
        let grown = executable_anon_bytes().saturating_sub(base_exec);
        assert!(grown < 4 << 20, "executable memory grew by {grown} bytes");
    }
    // Evicted kernels still held keep working.
    for (i, c) in &kept {
        let out = c.apply_new(&src.view()).unwrap();
        let x = 10.0f32;
        assert_eq!(
            out.data()[10],
            (x - 1.0) + (*i as f32 + 0.5) * x - (x + 1.0)
        );
    }
    drop(kept);
    assert_eq!(live_modules(), base_modules + capacity);
    drop(jit);
    assert_eq!(live_modules(), base_modules);
}

#[test]
fn zero_capacity_caches_nothing_and_frees_on_drop() {
    let _g = serial();
    let base = live_modules();
    let jit = Jit::with_options(JitOptions::default().cache_capacity(0)).unwrap();
    let a = jit.compile(&spec(1)).unwrap();
    let b = jit.compile(&spec(1)).unwrap();
    assert!(!a.same_code(&b));
    assert_eq!(live_modules(), base + 2);
    let a2 = a.clone();
    drop(a);
    assert_eq!(live_modules(), base + 2, "a clone keeps the code alive");
    drop((a2, b));
    assert_eq!(live_modules(), base);
    // Failed compiles leave nothing behind.
    assert!(jit.compile(&spec(1).stride(0)).is_err());
    assert!(jit.emit_asm(&spec(2)).is_ok());
    assert_eq!(live_modules(), base);
}
