//! The Cranelift peers: each stub built as Cranelift IR with
//! `cranelift-frontend` and compiled by `cranelift-codegen` for this machine
//! (`cranelift-native`), at opt levels `speed` and `none`, and made
//! runnable with `cranelift-jit`.
//!
//! The IR has the same logic as the LIL stub: the same loads, compares,
//! branches, stores, and calls of the same helpers (through their
//! addresses, as the LIL code calls them). What Cranelift cannot express is
//! approximated and said here:
//!
//! - `ts`: Cranelift IR has no `fs:`-relative load, so the thread pointer is
//!   loaded from a word in memory (one instruction more than LIL's
//!   `mov r, fs:[offset]`);
//! - M2N frames: the JNI wrapper builds one in a stack slot and links it,
//!   with the return address and the caller's frame pointer
//!   (`get_return_address`, `get_frame_pointer`, which need
//!   `preserve_frame_pointers`), but not the caller's callee-saved
//!   registers, which Cranelift cannot name; the slow paths of Figure 1 and
//!   monitor enter call their helper without a frame;
//! - the generic compile-me stub (`sp0` in r10, `arbitrary` arguments passed
//!   on by a tail call) has no Cranelift equivalent: [`supports`] is false.
//!
//! "Compile only" is building the IR plus `Context::compile` (a reused
//! `Context` and `FunctionBuilderContext`; the `TargetIsa` is built once).
//! "To runnable" adds `JITModule::define_function` and
//! `finalize_definitions` (the module is created once).

use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F64, I32, I64};
use cranelift_codegen::ir::{
    AbiParam, Function, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind,
    TrapCode, UserFuncName,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;
use lil_codegen::m2n::offsets as m2n;

use crate::stubs::{Params, StubKind};

/// Cranelift's optimisation level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptLevel {
    /// `opt_level=speed`.
    Speed,
    /// `opt_level=none`.
    None,
}

impl OptLevel {
    /// The system name in reports.
    pub fn system(self) -> &'static str {
        match self {
            OptLevel::Speed => "cranelift-speed",
            OptLevel::None => "cranelift-none",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            OptLevel::Speed => "speed",
            OptLevel::None => "none",
        }
    }
}

/// Whether Cranelift can express `stub`.
pub fn supports(stub: StubKind) -> bool {
    stub != StubKind::CompileMe
}

/// A Cranelift compiler for this machine at one opt level.
pub struct Cranelift {
    opt: OptLevel,
    isa: OwnedTargetIsa,
    /// The same with `preserve_frame_pointers` (for `get_return_address`).
    isa_fp: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
    /// JIT modules: plain, and with frame pointers preserved.
    modules: [Option<JITModule>; 2],
}

/// Code Cranelift made runnable.
#[derive(Clone, Copy, Debug)]
pub struct Runnable {
    /// Entry address.
    pub addr: u64,
    /// Bytes of machine code.
    pub len: u64,
}

fn isa(opt: OptLevel, frame_pointers: bool) -> Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| format!("cranelift setting {k}={v}: {e}"))
    };
    set(&mut flags, "opt_level", opt.setting())?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    if frame_pointers {
        set(&mut flags, "preserve_frame_pointers", "true")?;
    }
    cranelift_native::builder()
        .map_err(|e| format!("cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| format!("cranelift: {e}"))
}

impl Cranelift {
    /// A compiler (and a JIT module) for this machine.
    pub fn new(opt: OptLevel) -> Result<Cranelift, String> {
        Ok(Cranelift {
            opt,
            isa: isa(opt, false)?,
            isa_fp: isa(opt, true)?,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
            modules: [None, None],
        })
    }

    /// The opt level.
    pub fn opt(&self) -> OptLevel {
        self.opt
    }

    fn isa_for(&self, stub: StubKind) -> &OwnedTargetIsa {
        if stub == StubKind::JniPow {
            &self.isa_fp
        } else {
            &self.isa
        }
    }

    /// Build the IR of `stub` into the context's function.
    fn build(&mut self, stub: StubKind, p: &Params, ts_slot: u64) {
        self.ctx.clear();
        let sig = signature(stub);
        self.ctx.func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
        let config = self.isa_for(stub).frontend_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        match stub {
            StubKind::Fig1Alloc => fig1_alloc(&mut b, p, ts_slot),
            StubKind::InstanceOf => instanceof(&mut b, p),
            StubKind::JniPow => jni_pow(&mut b, p, ts_slot),
            StubKind::MonitorEnter => monitor_enter(&mut b, p, ts_slot),
            StubKind::CompileMe => {
                let block = b.create_block();
                b.switch_to_block(block);
                b.ins().trap(TrapCode::unwrap_user(1));
            }
        }
        b.seal_all_blocks();
        b.finalize(config);
    }

    /// Build and compile `stub` (compile only); returns the code size.
    pub fn compile(&mut self, stub: StubKind, p: &Params, ts_slot: u64) -> Result<usize, String> {
        self.build(stub, p, ts_slot);
        let isa = if stub == StubKind::JniPow {
            &self.isa_fp
        } else {
            &self.isa
        };
        let code = self
            .ctx
            .compile(&**isa, &mut ControlPlane::default())
            .map_err(|e| format!("cranelift compile: {:?}", e.inner))?;
        Ok(code.code_buffer().len())
    }

    /// Build, compile, define in the JIT module and finalize: callable code.
    /// The code stays callable as long as this compiler lives.
    pub fn install(
        &mut self,
        stub: StubKind,
        p: &Params,
        ts_slot: u64,
    ) -> Result<Runnable, String> {
        self.build(stub, p, ts_slot);
        // One module per ISA flavour: the JNI wrapper needs frame pointers.
        let which = usize::from(stub == StubKind::JniPow);
        if self.modules[which].is_none() {
            let isa = self.isa_for(stub).clone();
            let builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
            self.modules[which] = Some(JITModule::new(builder));
        }
        let module = self.modules[which].as_mut().ok_or("no JIT module")?;
        let id = module
            .declare_anonymous_function(&self.ctx.func.signature)
            .map_err(|e| format!("cranelift declare: {e}"))?;
        module
            .define_function(id, &mut self.ctx)
            .map_err(|e| format!("cranelift define: {e:?}"))?;
        module
            .finalize_definitions()
            .map_err(|e| format!("cranelift finalize: {e}"))?;
        let addr = module.get_finalized_function(id) as u64;
        let len = self
            .ctx
            .compiled_code()
            .map_or(0, |c| c.code_buffer().len()) as u64;
        Ok(Runnable { addr, len })
    }
}

fn signature(stub: StubKind) -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    let (params, returns): (&[_], &[_]) = match stub {
        StubKind::Fig1Alloc => (&[I32, I64], &[I64]),
        StubKind::InstanceOf => (&[I64], &[I32]),
        StubKind::JniPow => (&[F64, F64], &[F64]),
        StubKind::MonitorEnter => (&[I64], &[]),
        StubKind::CompileMe => (&[], &[]),
    };
    sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    sig.returns
        .extend(returns.iter().map(|&t| AbiParam::new(t)));
    sig
}

fn helper_sig(
    params: &[cranelift_codegen::ir::Type],
    returns: &[cranelift_codegen::ir::Type],
) -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    sig.returns
        .extend(returns.iter().map(|&t| AbiParam::new(t)));
    sig
}

const MEM: MemFlagsData = MemFlagsData::trusted();

/// `ts`, loaded from the word at `ts_slot`.
fn thread_pointer(b: &mut FunctionBuilder<'_>, ts_slot: u64) -> cranelift_codegen::ir::Value {
    let slot = b.ins().iconst(I64, ts_slot as i64);
    b.ins().load(I64, MEM, slot, 0)
}

fn fig1_alloc(b: &mut FunctionBuilder<'_>, p: &Params, ts_slot: u64) {
    let t = &p.layout.thread;
    let entry = b.create_block();
    let fast = b.create_block();
    let slow = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let (size, vtable) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let ts = thread_pointer(b, ts_slot);
    let frontier = b.ins().load(I64, MEM, ts, t.tlab_frontier);
    let limit = b.ins().load(I64, MEM, ts, t.tlab_limit);
    let size64 = b.ins().uextend(I64, size);
    let new_frontier = b.ins().iadd(frontier, size64);
    let over = b
        .ins()
        .icmp(IntCC::UnsignedGreaterThan, new_frontier, limit);
    b.ins().brif(over, slow, &[], fast, &[]);
    b.switch_to_block(fast);
    b.ins().store(MEM, vtable, frontier, p.layout.object.vtable);
    b.ins().store(MEM, new_frontier, ts, t.tlab_frontier);
    b.ins().return_(&[frontier]);
    b.switch_to_block(slow);
    let sig = b.import_signature(helper_sig(&[I32, I64], &[I64]));
    let callee = b.ins().iconst(I64, p.layout.helpers.gc_alloc as i64);
    let call = b.ins().call_indirect(sig, callee, &[size, vtable]);
    let r = b.inst_results(call)[0];
    b.ins().return_(&[r]);
}

fn instanceof(b: &mut FunctionBuilder<'_>, p: &Params) {
    let entry = b.create_block();
    let test = b.create_block();
    let yes = b.create_block();
    let no = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let object = b.block_params(entry)[0];
    let null = b.ins().icmp_imm_s(IntCC::Equal, object, 0);
    b.ins().brif(null, no, &[], test, &[]);
    b.switch_to_block(test);
    let vtable = b.ins().load(I64, MEM, object, p.layout.object.vtable);
    let ancestor = b.ins().load(I64, MEM, vtable, p.instanceof_slot());
    let class = b.ins().iconst(I64, p.class.class as i64);
    let same = b.ins().icmp(IntCC::Equal, ancestor, class);
    b.ins().brif(same, yes, &[], no, &[]);
    b.switch_to_block(yes);
    let one = b.ins().iconst(I32, 1);
    b.ins().return_(&[one]);
    b.switch_to_block(no);
    let zero = b.ins().iconst(I32, 0);
    b.ins().return_(&[zero]);
}

fn monitor_enter(b: &mut FunctionBuilder<'_>, p: &Params, ts_slot: u64) {
    let l = &p.layout;
    let entry = b.create_block();
    let done = b.create_block();
    let held = b.create_block();
    let again = b.create_block();
    let slow = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let object = b.block_params(entry)[0];
    let ts = thread_pointer(b, ts_slot);
    let lock_id = b.ins().load(I64, MEM, ts, l.thread.lock_id);
    let word_at = b.ins().iadd_imm_s(object, i64::from(l.object.lock_word));
    let zero = b.ins().iconst(I64, 0);
    let old = b.ins().atomic_cas(MEM, word_at, zero, lock_id);
    let taken = b.ins().icmp_imm_s(IntCC::Equal, old, 0);
    b.ins().brif(taken, done, &[], held, &[]);
    b.switch_to_block(done);
    b.ins().return_(&[]);
    b.switch_to_block(held);
    let word = b.ins().load(I64, MEM, object, l.object.lock_word);
    let mine = b.ins().bxor(word, lock_id);
    let limit = i64::from(l.lock.recursion_limit) - 1;
    let saturated = b
        .ins()
        .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, mine, limit);
    b.ins().brif(saturated, slow, &[], again, &[]);
    b.switch_to_block(again);
    let next = b.ins().iadd_imm_s(word, 1);
    b.ins().store(MEM, next, object, l.object.lock_word);
    b.ins().return_(&[]);
    b.switch_to_block(slow);
    let sig = b.import_signature(helper_sig(&[I64], &[]));
    let callee = b.ins().iconst(I64, l.helpers.monitor_enter_slow as i64);
    b.ins().call_indirect(sig, callee, &[object]);
    b.ins().return_(&[]);
}

fn jni_pow(b: &mut FunctionBuilder<'_>, p: &Params, ts_slot: u64) {
    let l = &p.layout;
    let entry = b.create_block();
    let exception = b.create_block();
    let no_exception = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let (a, x) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let frame = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        m2n::SIZE,
        3,
    ));
    let handles = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 3));
    // push_m2n method, handles
    let f = b.ins().stack_addr(I64, frame, 0);
    let ts = thread_pointer(b, ts_slot);
    let head = b.ins().iadd_imm_s(ts, i64::from(l.thread.m2n_list));
    let prev = b.ins().load(I64, MEM, head, 0);
    b.ins().store(MEM, prev, f, m2n::PREV);
    b.ins().store(MEM, head, f, m2n::LINK);
    let method = b.ins().iconst(I64, p.jni_method as i64);
    b.ins().store(MEM, method, f, m2n::METHOD);
    let zero = b.ins().iconst(I64, 0);
    b.ins().store(MEM, zero, f, m2n::FRAME_TYPE);
    let ra = b.ins().get_return_address(I64);
    b.ins().store(MEM, ra, f, m2n::RETURN_ADDRESS);
    let fp = b.ins().get_frame_pointer(I64);
    let caller_fp = b.ins().load(I64, MEM, fp, 0);
    b.ins().store(MEM, caller_fp, f, m2n::CALLER_FP);
    let caller_sp = b.ins().iadd_imm_s(fp, 16);
    b.ins().store(MEM, caller_sp, f, m2n::CALLER_SP);
    b.ins().store(MEM, f, head, 0);
    // The handle block {Math's class object, 0}.
    let h = b.ins().stack_addr(I64, handles, 0);
    let class_handle = b.ins().iconst(I64, p.class_handle as i64);
    let class_object = b.ins().load(I64, MEM, class_handle, 0);
    b.ins().store(MEM, class_object, h, 0);
    b.ins().store(MEM, zero, h, 8);
    b.ins().store(MEM, h, f, m2n::LOCAL_HANDLES);
    let void_sig = b.import_signature(helper_sig(&[], &[]));
    let gc_enable = b.ins().iconst(I64, l.helpers.gc_enable as i64);
    b.ins().call_indirect(void_sig, gc_enable, &[]);
    let native_sig = b.import_signature(helper_sig(&[I64, I64, F64, F64], &[F64]));
    let env = b.ins().iconst(I64, p.jni_env as i64);
    let native = b.ins().iconst(I64, p.native_pow as i64);
    let call = b.ins().call_indirect(native_sig, native, &[env, h, a, x]);
    let r = b.inst_results(call)[0];
    let gc_disable = b.ins().iconst(I64, l.helpers.gc_disable as i64);
    b.ins().call_indirect(void_sig, gc_disable, &[]);
    let ts = thread_pointer(b, ts_slot);
    let pending = b.ins().load(I64, MEM, ts, l.thread.pending_exception);
    let thrown = b.ins().icmp_imm_s(IntCC::NotEqual, pending, 0);
    b.ins().brif(thrown, exception, &[], no_exception, &[]);
    b.switch_to_block(exception);
    let rethrow = b.ins().iconst(I64, l.helpers.rethrow as i64);
    b.ins().call_indirect(void_sig, rethrow, &[]);
    b.ins().trap(TrapCode::unwrap_user(1));
    b.switch_to_block(no_exception);
    // pop_m2n
    let prev = b.ins().load(I64, MEM, f, m2n::PREV);
    let link = b.ins().load(I64, MEM, f, m2n::LINK);
    b.ins().store(MEM, prev, link, 0);
    b.ins().return_(&[r]);
}
