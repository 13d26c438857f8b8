//! The owner of generated machine code: one `JITModule` per compiled convolution,
//! freed when the last handle goes away.
//!
//! This file and `kernels.rs` hold all of the crate's `unsafe`: turning the
//! finalized code address into a function pointer, and freeing the module.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convc_core::{ConvError, Plan, Result};
use cranelift_codegen::Context;
use cranelift_codegen::ir::UserFuncName;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use crate::clif::{self, Config};
use crate::isa::Target;
use crate::lower::{Lowered, PassKind, Reach, RowStencil, lower};

/// The ABI of every generated row function (see `clif.rs`):
/// `(in_rows, out_rows, x0, x1)`, the row arrays holding `*const T` / `*mut T`.
pub(crate) type RowFn = unsafe extern "C" fn(*const *const u8, *const *mut u8, usize, usize);

/// The name generated code calls the prefetch helper by (x86_64).
const PREFETCH_SYMBOL: &str = "convc_prefetch_rows";

/// Modules alive in this process (created and not yet freed).
static LIVE_MODULES: AtomicUsize = AtomicUsize::new(0);

/// JIT modules currently holding machine code in this process: every compiled
/// convolution (cached or held by a [`crate::CompiledConv`]) owns one; it is
/// freed when the last handle and the cache entry are gone.
///
/// ```
/// use convc_jit::{Jit, JitOptions, live_modules};
/// use convc_core::{ConvSpec, Kernel};
/// let jit = Jit::with_options(JitOptions::default().cache_capacity(0))?;
/// let before = live_modules();
/// let k = jit.compile(&ConvSpec::new(Kernel::from_rows(&[[1.0, 2.0, 1.0]])?))?;
/// assert!(live_modules() >= before + 1);
/// drop(k); // the machine code is freed here (other threads may compile meanwhile)
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn live_modules() -> usize {
    LIVE_MODULES.load(Ordering::SeqCst)
}

/// A `JITModule` that frees its memory when dropped.
struct OwnedModule(Option<JITModule>);

impl OwnedModule {
    fn new(target: &Target) -> OwnedModule {
        let mut builder = JITBuilder::with_isa(target.isa.clone(), default_libcall_names());
        #[cfg(target_arch = "x86_64")]
        builder.symbol(PREFETCH_SYMBOL, crate::kernels::prefetch_rows as *const u8);
        LIVE_MODULES.fetch_add(1, Ordering::SeqCst);
        OwnedModule(Some(JITModule::new(builder)))
    }

    fn get(&mut self) -> &mut JITModule {
        self.0.as_mut().expect("the module lives until drop")
    }
}

impl Drop for OwnedModule {
    fn drop(&mut self) {
        if let Some(module) = self.0.take() {
            // SAFETY: function pointers into this module exist only inside the
            // `Code` that owns this `OwnedModule` (or nowhere, for emit/failed
            // compiles). `Code` is dropped only when no `&Code` remains, so no
            // generated function is running or can be called afterwards.
            unsafe { module.free_memory() };
            LIVE_MODULES.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One compiled pass: its function and what it computes.
pub(crate) struct Pass {
    pub func: RowFn,
    pub stencil: RowStencil,
    /// `stencil.reach()`, for the bounds proof before every call.
    pub reach: Option<Reach>,
}

/// Machine code for one Plan (threads aside), and the data its callers need to
/// prove every access in bounds.
pub(crate) struct Code {
    /// Freed on drop; behind a mutex only so that `Code` is `Sync` (never locked
    /// while running).
    _module: Mutex<OwnedModule>,
    pub plan: Plan,
    pub direct: Option<Pass>,
    pub vertical: Option<Pass>,
    pub horizontal: Option<Pass>,
    pub compile_time: Duration,
    pub code_bytes: usize,
}

impl Code {
    pub(crate) fn pass(&self, kind: PassKind) -> Option<&Pass> {
        match kind {
            PassKind::Direct => self.direct.as_ref(),
            PassKind::Horizontal => self.horizontal.as_ref(),
            PassKind::Vertical => self.vertical.as_ref(),
        }
    }
}

/// Whether `CONVC_DUMP` (a comma-separated list, read once) asks for `what`
/// (`clif`, `program`).
pub(crate) fn dump(what: &str) -> bool {
    static DUMP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    DUMP.get_or_init(|| {
        std::env::var("CONVC_DUMP")
            .map(|v| v.split(',').map(|w| w.trim().to_string()).collect())
            .unwrap_or_default()
    })
    .iter()
    .any(|w| w == what)
}

/// Output of [`define`] for one pass.
struct Defined {
    id: FuncId,
    code_len: usize,
    stencil: RowStencil,
    clif: String,
    asm: Option<String>,
}

/// Builds and compiles every pass of `lowered` into `module`.
fn define(
    module: &mut JITModule,
    target: &Target,
    unroll: usize,
    lowered: &Lowered,
    disasm: bool,
    emit: bool,
) -> Result<(Vec<Defined>, usize)> {
    let cfg = Config {
        fma: target.fma,
        unroll,
        ptr: module.target_config().pointer_type(),
        call_conv: module.isa().default_call_conv(),
        frontend: module.target_config(),
    };
    let sig = clif::signature(&cfg);
    let prefetch = if cfg!(target_arch = "x86_64") {
        let id = module
            .declare_function(
                PREFETCH_SYMBOL,
                Linkage::Import,
                &clif::prefetch_signature(&cfg),
            )
            .map_err(|e| ConvError::Codegen(format!("declaring {PREFETCH_SYMBOL}: {e}")))?;
        Some(id)
    } else {
        None
    };
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    let mut out = Vec::new();
    let mut code_bytes = 0;
    for st in lowered.stencils() {
        let name = format!("convc_{}", st.kind);
        let id = module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(|e| ConvError::Codegen(format!("declaring {name}: {e}")))?;
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let helper = prefetch.map(|id| module.declare_func_in_func(id, &mut ctx.func));
        clif::build(&mut ctx.func, &mut fctx, st, &cfg, helper);
        // The text only when someone reads it (it costs a tenth of a compile).
        let text = if disasm || emit || dump("clif") {
            ctx.func.display().to_string()
        } else {
            String::new()
        };
        if dump("clif") {
            eprintln!("; convc {} pass\n{text}", st.kind);
        }
        ctx.set_disasm(disasm);
        module
            .define_function(id, &mut ctx)
            .map_err(|e| ConvError::Codegen(format!("compiling the {} pass: {e:?}", st.kind)))?;
        let compiled = ctx
            .compiled_code()
            .ok_or_else(|| ConvError::Codegen("no compiled code".into()))?;
        let code_len = compiled.code_buffer().len();
        code_bytes += code_len;
        let asm = compiled.vcode.clone();
        module.clear_context(&mut ctx);
        out.push(Defined {
            id,
            code_len,
            stencil: st.clone(),
            clif: text,
            asm,
        });
    }
    Ok((out, code_bytes))
}

/// Names `len` bytes of code at `ptr` (`convc_vertical_15_taps`) in
/// `/tmp/perf-<pid>.map`, where `perf report` looks up addresses of JIT code
/// (`CONVC_DUMP=perf-map`). Best effort: a profile without names is all a
/// failure costs.
fn perf_map(ptr: *const u8, len: usize, st: &RowStencil) {
    use std::io::Write as _;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    if let Ok(mut file) = file {
        let (kind, taps) = (st.kind, st.taps().count());
        let _ = writeln!(file, "{:x} {len:x} convc_{kind}_{taps}_taps", ptr as usize);
    }
}

/// Compiles `plan` into callable machine code.
pub(crate) fn compile(target: &Target, unroll: usize, plan: Plan) -> Result<Code> {
    let start = Instant::now();
    let lowered = lower(&plan)?;
    let mut owned = OwnedModule::new(target);
    let module = owned.get();
    let (defined, code_bytes) = define(module, target, unroll, &lowered, false, false)?;
    module
        .finalize_definitions()
        .map_err(|e| ConvError::Codegen(format!("finalizing: {e}")))?;
    let mut code = Code {
        _module: Mutex::new(OwnedModule(None)),
        plan,
        direct: None,
        vertical: None,
        horizontal: None,
        compile_time: Duration::ZERO,
        code_bytes,
    };
    for d in defined {
        let ptr = module.get_finalized_function(d.id);
        if dump("perf-map") {
            perf_map(ptr, d.code_len, &d.stencil);
        }
        // SAFETY: `ptr` is the entry of a function just finalized in `module`,
        // built by `clif::build` with `clif::signature`: four pointer-sized
        // integer parameters, no results, the host's default (`extern "C"`)
        // calling convention — exactly `RowFn`. It stays valid until the module
        // is freed, which happens only when `code` (which owns both) is dropped.
        let func = unsafe { std::mem::transmute::<*const u8, RowFn>(ptr) };
        let kind = d.stencil.kind;
        let pass = Some(Pass {
            func,
            reach: d.stencil.reach(),
            stencil: d.stencil,
        });
        match kind {
            PassKind::Direct => code.direct = pass,
            PassKind::Horizontal => code.horizontal = pass,
            PassKind::Vertical => code.vertical = pass,
        }
    }
    code._module = Mutex::new(owned);
    code.compile_time = start.elapsed();
    Ok(code)
}

/// The CLIF (and, with `asm`, the disassembly) of every pass of `plan`, compiled
/// into a throwaway module.
pub(crate) fn emit(target: &Target, unroll: usize, plan: &Plan, asm: bool) -> Result<String> {
    let lowered = lower(plan)?;
    let mut owned = OwnedModule::new(target);
    let (defined, _) = define(owned.get(), target, unroll, &lowered, asm, true)?;
    let mut text = String::new();
    for d in &defined {
        let _ = writeln!(text, "; convc {} pass", d.stencil.kind);
        if asm {
            text.push_str(d.asm.as_deref().unwrap_or("; (no disassembly)\n"));
        } else {
            text.push_str(&d.clif);
        }
        text.push('\n');
    }
    Ok(text)
}
