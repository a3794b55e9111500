//! JNI-style native wrappers, generated from a method signature (the
//! paper's Figure 3, DRLVM's `compile_create_lil_jni_stub`).
//!
//! A wrapper is called with the managed convention and calls a JNI native
//! function with the C convention. In order it:
//!
//! 1. pushes an M2N frame (method, `frame_type::JNI`, with handles);
//! 2. allocates a block of local handles on its stack: handle 0 is the
//!    class object (static methods) or `this`, then one per reference
//!    argument; a null reference is passed as a null handle, not a handle
//!    to null;
//! 3. enters the monitor of the class object or `this` if synchronized;
//! 4. tells the GC that native code runs (`gc_enable`), calls the native
//!    function with the thread's `JNIEnv*`, the class or `this` handle and
//!    the arguments (more than fit in registers go on the stack: the
//!    backend places them), then `gc_disable`;
//! 5. widens boolean/byte/char/short results to 64 bits (the C ABI leaves
//!    the upper bits of a narrow result unspecified), and turns a
//!    returned handle back into a reference;
//! 6. exits the monitor, rethrows a pending exception under the M2N frame,
//!    or pops the frame (which frees the handles) and returns.
//!
//! The wrapper's shape depends on the signature, so this generator writes
//! LIL text (readable: see [`jni_wrapper_text`]) and parses it once per
//! native method.

use std::fmt::Write as _;

use lil_codegen::m2n::frame_type;
use lil_syntax::{MethodDescriptor, Type, ValueKind};

use crate::{CheckedStub, GenError, VmLayout, WORD, checked_text};

/// A native method to wrap.
pub struct NativeMethod<'a> {
    /// The VM's method structure (recorded in the M2N frame).
    pub method: u64,
    /// The declaring class's structure: a static method passes its class
    /// object (at [`crate::ClassLayout::class_object`]) as a handle.
    pub class: u64,
    /// The JNI function's address.
    pub function: u64,
    /// Static or instance, parameter and result kinds.
    pub signature: &'a dyn MethodDescriptor,
    /// Whether the method is `synchronized`.
    pub synchronized: bool,
}

/// The wrapper's own (managed) signature: the method's managed signature,
/// except that boolean, byte, char and short results are returned widened
/// to a `g8` (sign- or zero-extended as Java defines them), which callers
/// expecting the narrow value read unchanged.
pub fn wrapper_signature(signature: &dyn MethodDescriptor) -> (Vec<Type>, Option<Type>) {
    let (params, ret) = signature.managed_signature();
    let ret = match signature.result() {
        ValueKind::Boolean | ValueKind::Byte | ValueKind::Char | ValueKind::Short => Some(Type::G8),
        _ => ret,
    };
    (params, ret)
}

/// The wrapper for `native`, checked.
pub fn jni_wrapper(vm: &VmLayout, native: &NativeMethod<'_>) -> Result<CheckedStub, GenError> {
    checked_text(&jni_wrapper_text(vm, native)?)
}

/// The wrapper for `native`, as LIL text.
pub fn jni_wrapper_text(vm: &VmLayout, native: &NativeMethod<'_>) -> Result<String, GenError> {
    let sig = native.signature;
    let kinds = sig.params();
    if kinds.contains(&ValueKind::Void) {
        return Err(GenError::Unsupported("a void parameter".into()));
    }
    let (managed_params, managed_ret) = wrapper_signature(sig);
    let (jni_params, jni_ret) = sig.jni_signature();
    let is_static = sig.is_static();
    // Inputs: `this` first for instance methods.
    let first_param = usize::from(!is_static);
    let h = &vm.handles;
    let reference_params = kinds.iter().filter(|k| **k == ValueKind::Reference).count();
    let handle_count = 1 + reference_params;
    let block = h.refs as i64 + WORD * handle_count as i64;
    let handle = |k: usize| h.refs as i64 + WORD * k as i64;
    let class_object = native.class as i128 + i128::from(vm.class.class_object);
    let t = &vm.thread;
    let helpers = &vm.helpers;

    let mut s = String::new();
    let types = |ts: &[Type]| ts.iter().map(|t| t.keyword()).collect::<Vec<_>>().join(",");
    let ret_kw = |r: Option<Type>| r.map_or("void", Type::keyword);
    // `write!` to a String cannot fail.
    macro_rules! line {
        ($($arg:tt)*) => {{ let _ = writeln!(s, $($arg)*); }};
    }
    line!(
        "entry 0:managed:{}:{};",
        types(&managed_params),
        ret_kw(managed_ret)
    );
    line!(
        "push_m2n {:#x}, {:#x}, handles;",
        native.method,
        frame_type::JNI
    );
    line!("locals 3;");
    line!("alloc l0, {block};                 // {handle_count} local handles");
    line!("st [l0+{}:pint], 0;", h.next);
    line!("st [l0+{}:g4], {handle_count};", h.count);
    line!("handles = l0;");
    if is_static {
        line!("ld l1, [{class_object:#x}:ref];    // the class object");
        line!("st [l0+{}:ref], l1;", handle(0));
    } else {
        line!("st [l0+{}:ref], i0;                // this", handle(0));
    }
    let mut next_handle = 1;
    let mut handle_of_param = Vec::with_capacity(kinds.len());
    for (k, kind) in kinds.iter().enumerate() {
        if *kind == ValueKind::Reference {
            line!("st [l0+{}:ref], i{};", handle(next_handle), first_param + k);
            handle_of_param.push(Some(next_handle));
            next_handle += 1;
        } else {
            handle_of_param.push(None);
        }
    }
    if native.synchronized {
        line!("out managed:ref:void;              // synchronized: enter the monitor");
        line!("ld o0, [l0+{}:ref];", handle(0));
        line!("call {:#x};", helpers.monitor_enter);
    }
    line!("out platform::void;");
    line!(
        "call {:#x};                        // gc_enable",
        helpers.gc_enable
    );
    line!("out jni:{}:{};", types(&jni_params), ret_kw(jni_ret));
    line!("l1 = ts;");
    line!("ld o0, [l1+{}:pint];               // JNIEnv*", t.jni_env);
    line!("o1 = l0 + {};", handle(0));
    for (k, handle_of) in handle_of_param.iter().enumerate() {
        let (input, output) = (first_param + k, 2 + k);
        match *handle_of {
            Some(hn) => {
                line!("jc i{input} = 0, null{k};");
                line!("o{output} = l0 + {};", handle(hn));
                line!("j done{k};");
                line!(":null{k};");
                line!("o{output} = 0;                       // null: a null handle");
                line!(":done{k};");
            }
            None => line!("o{output} = i{input};"),
        }
    }
    line!(
        "call {:#x};                        // the native method",
        native.function
    );
    match sig.result() {
        ValueKind::Void => {}
        ValueKind::Boolean => line!("l1 = zx1 r;"),
        ValueKind::Byte => line!("l1 = sx1 r;"),
        ValueKind::Char => line!("l1 = zx2 r;"),
        ValueKind::Short => line!("l1 = sx2 r;"),
        ValueKind::Reference => {
            line!("l1 = r;                            // a handle");
            line!("jc l1 = 0, null_result;");
            line!("ld l1, [l1+0:ref];");
            line!("j result_done;");
            line!(":null_result;");
            line!("l1 = 0:ref;");
            line!(":result_done;");
        }
        _ => line!("l1 = r;"),
    }
    line!("out platform::void;");
    line!(
        "call {:#x};                        // gc_disable",
        helpers.gc_disable
    );
    if native.synchronized {
        line!("out managed:ref:void;");
        line!("ld o0, [l0+{}:ref];", handle(0));
        line!(
            "call {:#x};                        // monitor exit",
            helpers.monitor_exit
        );
    }
    line!("l2 = ts;");
    line!("ld l2, [l2+{}:ref];", t.pending_exception);
    line!("jc l2 != 0, exception;");
    match sig.result() {
        ValueKind::Void => {}
        ValueKind::Boolean | ValueKind::Byte | ValueKind::Char | ValueKind::Short => {
            line!("r = l1:g8;")
        }
        _ => line!("r = l1;"),
    }
    line!("pop_m2n;                            // frees the handles");
    line!("ret;");
    line!(":exception;");
    line!("m2n_save_all;");
    line!("out platform::void;");
    line!(
        "call.noret {:#x};                  // rethrow",
        helpers.rethrow
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;
    use ValueKind::*;
    use lil_syntax::MethodSig;

    fn wrap(is_static: bool, synchronized: bool, params: Vec<ValueKind>, result: ValueKind) {
        let sig = MethodSig {
            is_static,
            params,
            result,
        };
        let native = NativeMethod {
            method: 0x1234,
            class: 0x5000,
            function: 0x9000,
            signature: &sig,
            synchronized,
        };
        let vm = VmLayout::example();
        let stub = jni_wrapper(&vm, &native).unwrap_or_else(|e| panic!("{e}"));
        compiles(&stub);
        let (params, ret) = wrapper_signature(&sig);
        let entry = stub.stub().entry.signature.typed().unwrap();
        assert_eq!((&entry.params, entry.ret), (&params, ret));
    }

    #[test]
    fn every_result_kind_and_shape_checks_and_compiles() {
        for result in [
            Void, Boolean, Byte, Char, Short, Int, Long, Float, Double, Reference,
        ] {
            for (is_static, synchronized) in
                [(true, false), (false, false), (true, true), (false, true)]
            {
                wrap(
                    is_static,
                    synchronized,
                    vec![Int, Reference, Double],
                    result,
                );
            }
        }
    }

    #[test]
    fn more_arguments_than_registers() {
        let params = vec![
            Reference, Int, Float, Double, Long, Boolean, Byte, Char, Short, Reference, Double,
            Float, Int, Long, Reference, Double, Double, Double, Float, Long,
        ];
        wrap(false, true, params, Reference);
    }

    #[test]
    fn narrow_results_are_widened() {
        let sig = MethodSig {
            is_static: true,
            params: vec![],
            result: Char,
        };
        assert_eq!(wrapper_signature(&sig).1, Some(Type::G8));
        let native = NativeMethod {
            method: 1,
            class: 2,
            function: 3,
            signature: &sig,
            synchronized: false,
        };
        let text = jni_wrapper_text(&VmLayout::example(), &native).unwrap();
        assert!(text.contains("l1 = zx2 r;"), "{text}");
    }
}
