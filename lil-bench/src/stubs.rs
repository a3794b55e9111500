//! The fixed set of stubs every measurement uses, in the two forms a VM
//! generates them from: LIL text with `%Ni` runtime constants (parsed at run
//! time), and `lil_parse!` templates (parsed when this crate compiles; at run
//! time only the holes are filled).
//!
//! | stub | what | from |
//! |---|---|---|
//! | `fig1_alloc` | thread-local allocation, slow path under an M2N frame | the paper's Figure 1 |
//! | `instanceof` | `instanceof` against one class (superclass-table test) | `lil_stubs::typecheck::instanceof_for_class` |
//! | `fig3_jni_pow` | JNI wrapper of `static double Math.pow(double, double)` | the paper's Figure 3 |
//! | `compile_me_generic` | the generic compile-me stub (`sp0` = method, `arbitrary`) | the paper's §3.2.1 |
//! | `monitor_enter` | thin-lock monitor enter with `cas` | `lil_stubs::monitor::monitor_enter` |
//!
//! Invariant: for every stub the text and the template build equal
//! [`Stub`]s for the same [`Params`] (a test checks it), so the two
//! generation paths produce the same machine code and differ only in how
//! the AST is obtained.

use lil::lil_parse;
use lil::template::Hole;
use lil_codegen::{HostEnv, ThreadPointer};
use lil_stubs::{ClassInfo, VmLayout};
use lil_syntax::{Arg, Stub, SyntaxErrors};

/// The stubs of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StubKind {
    /// Figure 1: allocation fast path.
    Fig1Alloc,
    /// Per-class `instanceof`.
    InstanceOf,
    /// Figure 3: the JNI wrapper of `Math.pow`.
    JniPow,
    /// §3.2.1: the generic compile-me stub.
    CompileMe,
    /// Thin-lock monitor enter.
    MonitorEnter,
}

impl StubKind {
    /// Every stub, in table order.
    pub const ALL: [StubKind; 5] = [
        StubKind::Fig1Alloc,
        StubKind::InstanceOf,
        StubKind::JniPow,
        StubKind::CompileMe,
        StubKind::MonitorEnter,
    ];

    /// The name used in tables and JSON (`bench` field).
    pub fn name(self) -> &'static str {
        match self {
            StubKind::Fig1Alloc => "fig1_alloc",
            StubKind::InstanceOf => "instanceof",
            StubKind::JniPow => "fig3_jni_pow",
            StubKind::CompileMe => "compile_me_generic",
            StubKind::MonitorEnter => "monitor_enter",
        }
    }

    /// The LIL text with `%Ni` directives, as a VM would keep it.
    pub fn text(self) -> &'static str {
        match self {
            StubKind::Fig1Alloc => FIG1_TEXT,
            StubKind::InstanceOf => INSTANCEOF_TEXT,
            StubKind::JniPow => JNI_POW_TEXT,
            StubKind::CompileMe => COMPILE_ME_TEXT,
            StubKind::MonitorEnter => MONITOR_ENTER_TEXT,
        }
    }

    /// What each `%Ni` directive of the text is, as a hole of a
    /// [`lil::template::Template`]: address displacements are offsets,
    /// addresses and `pint` constants are words.
    pub fn holes(self) -> &'static [Hole] {
        use Hole::{Offset, Word};
        match self {
            StubKind::Fig1Alloc => &[Offset, Offset, Offset, Word],
            StubKind::InstanceOf => &[Offset, Offset, Word],
            StubKind::JniPow => &[Word, Word, Word, Word, Word, Word, Offset, Word],
            StubKind::CompileMe => &[Word, Word],
            StubKind::MonitorEnter => &[Offset, Offset, Word, Word],
        }
    }

    /// The values of the text's `%Ni` directives, in order.
    pub fn args(self, p: &Params) -> Vec<i128> {
        let l = &p.layout;
        let (t, h) = (&l.thread, &l.helpers);
        match self {
            StubKind::Fig1Alloc => vec![
                t.tlab_frontier.into(),
                t.tlab_limit.into(),
                l.object.vtable.into(),
                h.gc_alloc.into(),
            ],
            StubKind::InstanceOf => vec![
                l.object.vtable.into(),
                p.instanceof_slot().into(),
                p.class.class.into(),
            ],
            StubKind::JniPow => vec![
                p.jni_method.into(),
                p.class_handle.into(),
                h.gc_enable.into(),
                p.jni_env.into(),
                p.native_pow.into(),
                h.gc_disable.into(),
                t.pending_exception.into(),
                h.rethrow.into(),
            ],
            StubKind::CompileMe => vec![
                lil_codegen::m2n::frame_type::COMPILATION.into(),
                h.jit_compile.into(),
            ],
            StubKind::MonitorEnter => vec![
                t.lock_id.into(),
                l.object.lock_word.into(),
                (l.lock.recursion_limit - 1).into(),
                h.monitor_enter_slow.into(),
            ],
        }
    }

    /// Parse the text with its arguments: the text path's first phase.
    pub fn parse(self, args: &[Arg<'_>]) -> Result<Stub, SyntaxErrors> {
        lil_syntax::parse_with(self.text(), args)
    }

    /// Build the stub from its `lil_parse!` template: the template path's
    /// first phase (no parsing at run time).
    pub fn template(self, p: &Params) -> Result<Stub, SyntaxErrors> {
        let l = &p.layout;
        let (t, h) = (&l.thread, &l.helpers);
        match self {
            StubKind::Fig1Alloc => {
                let (frontier, limit, vtable, gc_alloc) =
                    (t.tlab_frontier, t.tlab_limit, l.object.vtable, h.gc_alloc);
                lil_parse!(
                    "entry 0:managed:g4,pint:ref;
                     locals 3;
                     l0 = ts;
                     ld r, [l0+{frontier}:ref];
                     ld l1, [l0+{limit}:pint];
                     l2 = zx4 i0;
                     l2 = r:pint + l2;
                     jc l2 >u l1, slowpath;
                     st [r+{vtable}:pint], i1;
                     st [l0+{frontier}:pint], l2;
                     ret;
                     :slowpath;
                     push_m2n 0;
                     in2out platform:ref;
                     call {gc_alloc};
                     pop_m2n;
                     ret;"
                )
            }
            StubKind::InstanceOf => {
                let (vtable, slot, class) = (l.object.vtable, p.instanceof_slot(), p.class.class);
                lil_parse!(
                    "entry 0:managed:ref:g4;
                     locals 1;
                     jc i0 = 0, no;
                     ld l0, [i0+{vtable}:pint];
                     ld l0, [l0+{slot}:pint];
                     jc l0 != {class}, no;
                     r = 1;
                     ret;
                     :no;
                     r = 0;
                     ret;"
                )
            }
            StubKind::JniPow => {
                let (method, class_handle, jni_env, native) =
                    (p.jni_method, p.class_handle, p.jni_env, p.native_pow);
                let (gc_enable, gc_disable, rethrow) = (h.gc_enable, h.gc_disable, h.rethrow);
                let pending = t.pending_exception;
                lil_parse!(
                    "entry 0:managed:f8,f8:f8;
                     push_m2n {method}, handles;
                     locals 2;
                     alloc l0, 16;
                     ld l1, [{class_handle}:ref];
                     st [l0+0:ref], l1;
                     st [l0+8:pint], 0;
                     handles = l0;
                     out platform::void;
                     call {gc_enable};
                     out jni:pint,pint,f8,f8:f8;
                     o0 = {jni_env};
                     o1 = l0;
                     o2 = i0;
                     o3 = i1;
                     call {native};
                     l1 = r;
                     out platform::void;
                     call {gc_disable};
                     l0 = ts;
                     ld l0, [l0+{pending}:ref];
                     jc l0 = 0, no_exception;
                     m2n_save_all;
                     out platform::void;
                     call.noret {rethrow};
                     :no_exception;
                     r = l1;
                     pop_m2n;
                     ret;"
                )
            }
            StubKind::CompileMe => {
                let compilation = lil_codegen::m2n::frame_type::COMPILATION;
                let jit_compile = h.jit_compile;
                lil_parse!(
                    "entry 1:managed:arbitrary;
                     push_m2n 0, {compilation};
                     m2n_save_all;
                     out platform:pint:pint;
                     o0 = sp0;
                     call {jit_compile};
                     locals 1;
                     l0 = r;
                     pop_m2n;
                     tailcall l0;"
                )
            }
            StubKind::MonitorEnter => {
                let (lock_id, word) = (t.lock_id, l.object.lock_word);
                let limit = l.lock.recursion_limit - 1;
                let slow = h.monitor_enter_slow;
                lil_parse!(
                    "entry 0:managed:ref:void;
                     locals 3;
                     l0 = ts;
                     ld l0, [l0+{lock_id}:pint];
                     cas [i0+{word}:pint] = 0, l0, held;
                     ret;
                     :held;
                     ld l1, [i0+{word}:pint];
                     l2 = l1 ^ l0;
                     jc l2 >=u {limit}, slow;
                     l1 = l1 + 1;
                     st [i0+{word}:pint], l1;
                     ret;
                     :slow;
                     push_m2n 0;
                     out platform:ref:void;
                     o0 = i0;
                     call {slow};
                     pop_m2n;
                     ret;"
                )
            }
        }
    }
}

/// Figure 1 (with the explicit `zx4` LIL-rs requires).
pub const FIG1_TEXT: &str = "entry 0:managed:g4,pint:ref;
locals 3;
l0 = ts;
ld r, [l0+%0i:ref];
ld l1, [l0+%1i:pint];
l2 = zx4 i0;
l2 = r:pint + l2;
jc l2 >u l1, slowpath;
st [r+%2i:pint], i1;
st [l0+%0i:pint], l2;
ret;
:slowpath;
push_m2n 0;
in2out platform:ref;
call %3i;
pop_m2n;
ret;
";

/// `instanceof` against one class, as `lil_stubs` generates it.
pub const INSTANCEOF_TEXT: &str = "entry 0:managed:ref:g4;
locals 1;
jc i0 = 0, no;
ld l0, [i0+%0i:pint];
ld l0, [l0+%1i:pint];
jc l0 != %2i, no;
r = 1;
ret;
:no;
r = 0;
ret;
";

/// Figure 3 (as `examples/figure3_jni_pow.lil`: a 16-byte handle block).
pub const JNI_POW_TEXT: &str = "entry 0:managed:f8,f8:f8;
push_m2n %0i, handles;
locals 2;
alloc l0, 16;
ld l1, [%1i:ref];
st [l0+0:ref], l1;
st [l0+8:pint], 0;
handles = l0;
out platform::void;
call %2i;
out jni:pint,pint,f8,f8:f8;
o0 = %3i;
o1 = l0;
o2 = i0;
o3 = i1;
call %4i;
l1 = r;
out platform::void;
call %5i;
l0 = ts;
ld l0, [l0+%6i:ref];
jc l0 = 0, no_exception;
m2n_save_all;
out platform::void;
call.noret %7i;
:no_exception;
r = l1;
pop_m2n;
ret;
";

/// The generic compile-me stub (as `examples/compile_me.lil`).
pub const COMPILE_ME_TEXT: &str = "entry 1:managed:arbitrary;
push_m2n 0, %0i;
m2n_save_all;
out platform:pint:pint;
o0 = sp0;
call %1i;
locals 1;
l0 = r;
pop_m2n;
tailcall l0;
";

/// Thin-lock monitor enter, as `lil_stubs` generates it.
pub const MONITOR_ENTER_TEXT: &str = "entry 0:managed:ref:void;
locals 3;
l0 = ts;
ld l0, [l0+%0i:pint];
cas [i0+%1i:pint] = 0, l0, held;
ret;
:held;
ld l1, [i0+%1i:pint];
l2 = l1 ^ l0;
jc l2 >=u %2i, slow;
l1 = l1 + 1;
st [i0+%1i:pint], l1;
ret;
:slow;
push_m2n 0;
out platform:ref:void;
o0 = i0;
call %3i;
pop_m2n;
ret;
";

/// Everything the stubs are specialised with: the VM's layout (offsets and
/// helper addresses in [`VmLayout::helpers`]), how `ts` is read, and the
/// constants of the per-class and JNI stubs. The same values go into the
/// LIL stubs, the hand-written code and the Cranelift functions.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Offsets and helper addresses (`gc_alloc`, `gc_enable`, `gc_disable`,
    /// `rethrow`, `jit_compile`, `monitor_enter_slow`).
    pub layout: VmLayout,
    /// `ts` is the pointer at this offset from the thread's TLS base
    /// (`fs:` on x86-64, `tpidr_el0` on AArch64).
    pub tls_offset: i32,
    /// The class of the `instanceof` stub.
    pub class: ClassInfo,
    /// The JNI native method (`Java_java_lang_Math_pow`): `(env, class
    /// handle, f8, f8) -> f8`.
    pub native_pow: u64,
    /// The method the JNI wrapper's M2N frame records.
    pub jni_method: u64,
    /// The `JNIEnv*` passed to the native method.
    pub jni_env: u64,
    /// Figure 3's `mi`: the address of the reference to `Math`'s class object.
    pub class_handle: u64,
}

impl Params {
    /// Parameters with made-up addresses (the layout of
    /// [`VmLayout::example`]): enough to generate code, not to run it.
    pub fn example() -> Params {
        Params {
            layout: VmLayout::example(),
            tls_offset: 16,
            class: ClassInfo {
                class: 0x7f00_0012_3440,
                depth: 3,
                is_interface: false,
                vtable: 0,
                instance_size: 16,
            },
            native_pow: 0x7f00_0000_9000,
            jni_method: 0x7f00_0000_5000,
            jni_env: 0x7f00_0000_8000,
            class_handle: 0x7f00_0000_6000,
        }
    }

    /// The host environment the LIL stubs are compiled for: `ts` from the
    /// TLS slot, the M2N list head in the thread structure.
    pub fn env(&self) -> HostEnv {
        HostEnv::new(
            ThreadPointer::TlsSlot {
                offset: self.tls_offset,
            },
            self.layout.thread.m2n_list,
        )
    }

    /// Offset in a vtable of the superclass-table entry at the class's depth.
    pub fn instanceof_slot(&self) -> i32 {
        self.layout.vtable.superclasses + 8 * (self.class.depth as i32 - 1)
    }

    /// The text path's `%Ni` arguments of `stub`.
    pub fn args(&self, stub: StubKind) -> Vec<Arg<'static>> {
        stub.args(self).into_iter().map(Arg::Int).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_template_build_the_same_stub() {
        let p = Params::example();
        for stub in StubKind::ALL {
            let text = stub
                .parse(&p.args(stub))
                .unwrap_or_else(|e| panic!("{}: {e:?}", stub.name()));
            let template = stub
                .template(&p)
                .unwrap_or_else(|e| panic!("{}: {e:?}", stub.name()));
            assert_eq!(text, template, "{}", stub.name());
            let checked =
                lil_check::check_owned(text).unwrap_or_else(|e| panic!("{}: {e:?}", stub.name()));
            assert!(checked.warnings().is_empty(), "{}", stub.name());
        }
    }

    #[test]
    fn templates_are_the_standard_library_stubs() {
        let p = Params::example();
        let instanceof = lil_stubs::typecheck::instanceof_for_class(&p.layout, &p.class).unwrap();
        assert_eq!(
            instanceof.stub(),
            &StubKind::InstanceOf.template(&p).unwrap()
        );
        let monitor = lil_stubs::monitor::monitor_enter(&p.layout).unwrap();
        assert_eq!(
            monitor.stub(),
            &StubKind::MonitorEnter.template(&p).unwrap()
        );
    }
}
