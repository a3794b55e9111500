//! The paper's and DRLVM's stubs, run on both targets: Figure 1
//! (allocation), Figure 3 (JNI wrapper for `Math.pow`), compile-me with a
//! standard place and an arbitrary signature, DRLVM's checkcast and
//! allocation stubs, a `cas` monitor enter, and M2N stack walks from Rust.
//! Every test checks results and memory effects, and what the host
//! functions were given.

use std::cell::RefCell;
use std::rc::Rc;

use lil_codegen::m2n::{M2nFrame, frame_type};
use lil_machine::{HostSig, MachineError, Value};
use lil_syntax::Type::{self, F8, G1, G2, G4, G8, Pint, Ref};
use lil_tests::exec::{Expect, Runner, mapping_of, thread_layout as tl, val, walk_from_host};
use lil_tests::exec_test;

/// What host functions saw, shared with the test body.
type Log<T> = Rc<RefCell<Vec<T>>>;

fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// The M2N frames seen by one host call (frames, most recent first, and why
/// the walk stopped early if it did).
type Walk = (Vec<(u64, M2nFrame)>, Option<String>);

/// Assert a walk read every frame it found.
#[track_caller]
fn frames_of(walk: &Walk) -> &[(u64, M2nFrame)] {
    if let Some(why) = &walk.1 {
        panic!(
            "the M2N walk from the host function stopped: {why} (frames so far: {:?})",
            walk.0
        );
    }
    &walk.0
}

/// Check that `ra`, the return address recorded in the outermost M2N frame,
/// is where `Runner::call` entered the stub from.
#[track_caller]
fn assert_entry_return_address(r: &Runner, ra: u64) {
    assert_ne!(ra, 0, "return address not recorded");
    match r.entry_return_address() {
        Some(exit) => assert_eq!(ra, exit, "return address is not the caller's"),
        None => {
            // Native: the entry trampoline, a private executable mapping
            // that is none of the stubs.
            assert!(
                !r.is_installed_code(ra),
                "{ra:#x} lies in a stub, not in the caller"
            );
            let m = mapping_of(ra).unwrap_or_else(|| panic!("{ra:#x} is not mapped"));
            assert!(m.perms.contains('x'), "{ra:#x} is not executable: {m:?}");
        }
    }
}

/// The `ts`-relative M2N list head.
fn m2n_head(r: &mut Runner) -> u64 {
    let at = r.thread_field(tl::M2N_LIST);
    r.read_u64(at).or_fail("read the M2N list head")
}

// ------------------------------------------------------------- Figure 1

/// Figure 1 with LIL-rs typing: the paper's `l2=r:pint+i0` adds a g4 to a
/// pint, which LIL-rs rejects (an operation's operands have one type), so
/// the size is zero-extended first: `l2 = zx4 i0; l2 = r:pint + l2;`.
fn figure1(slow: u64) -> String {
    format!(
        "entry 0:managed:g4,pint:ref;
         locals 3;
         l0 = ts;
         ld r, [l0+{fpo}:ref];
         ld l1, [l0+{lpo}:pint];
         l2 = zx4 i0;
         l2 = r:pint + l2;
         jc l2 >u l1, slowpath;
         st [r+0:pint], i1;
         st [l0+{fpo}:pint], l2;
         ret;
         :slowpath;
         push_m2n 0;
         in2out platform:ref;
         call {slow:#x};
         pop_m2n;
         ret;",
        fpo = tl::FRONTIER,
        lpo = tl::LIMIT
    )
}

exec_test!(
    fn figure1_allocation(r: &mut Runner) {
        let heap = r.alloc(256, 16).or_fail("heap");
        let old = r.alloc(256, 16).or_fail("slow heap");
        let (frontier, limit) = (r.thread_field(tl::FRONTIER), r.thread_field(tl::LIMIT));
        r.write_u64(frontier, heap).or_fail("frontier");
        r.write_u64(limit, heap + 64).or_fail("limit");

        let seen: Log<(u64, u64, Walk)> = log();
        let (target, thread, s) = (r.target(), r.thread(), seen.clone());
        let slow = r
            .host_fn(&[G4, Pint], Some(Ref), move |c| {
                let walk = walk_from_host(c, target, thread);
                s.borrow_mut().push((c.arg(0).bits, c.arg(1).bits, walk));
                Some(val::reference(old))
            })
            .or_fail("gc_alloc");
        let stub = r.compile(figure1(slow)).or_fail("compile Figure 1");
        let sig = HostSig::new(&[G4, Pint], Some(Ref));
        let vt = 0x7AB1_E000_0000_0010;

        // Fast path; the bits of the size above its 32 are unspecified.
        let args = [val::dirty(G4, 32, 0xFFFF_FFFF), val::pint(vt)];
        let obj = r.call(stub, &sig, &args).or_fail("fast path");
        assert_eq!(obj, Some(val::reference(heap)));
        assert_eq!(r.read_u64(heap).or_fail("vtable"), vt);
        assert_eq!(r.read_u64(frontier).or_fail("frontier"), heap + 32);

        // Exactly up to the limit is still the fast path (`>u`, not `>=u`).
        let obj = r.call(stub, &sig, &[val::g4(32), val::pint(vt + 1)]);
        assert_eq!(obj.or_fail("fit"), Some(val::reference(heap + 32)));
        assert_eq!(r.read_u64(heap + 32).or_fail("vtable"), vt + 1);
        assert_eq!(r.read_u64(frontier).or_fail("frontier"), heap + 64);
        assert!(
            seen.borrow().is_empty(),
            "the slow path ran on the fast path"
        );

        // Full: the slow path, under an M2N frame, with the stub's arguments.
        let obj = r.call(stub, &sig, &[val::g4(8), val::pint(vt + 2)]);
        assert_eq!(obj.or_fail("slow path"), Some(val::reference(old)));
        assert_eq!(r.read_u64(frontier).or_fail("frontier"), heap + 64);
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1);
        let (size, vtable, walk) = &seen[0];
        assert_eq!((*size, *vtable), (8, vt + 2));
        let frames = frames_of(walk);
        assert_eq!(frames.len(), 1, "one M2N frame during the slow path");
        let (at, f) = &frames[0];
        assert_eq!(
            (f.method, f.frame_type, f.prev, f.local_handles),
            (0, 0, 0, 0)
        );
        assert_eq!(f.link, r.thread_field(tl::M2N_LIST));
        assert_entry_return_address(r, f.return_address);
        assert!(f.caller_sp > *at, "the frame lies in the stub's frame");
        assert_eq!(m2n_head(r), 0, "pop_m2n unlinked the frame");
    }
);

exec_test!(
    fn figure1_with_ts_from_a_call(r: &mut Runner) {
        // The same stub where `ts` calls a host function.
        let mut r = Runner::with_ts_call(r.target()).or_fail("runner");
        let heap = r.alloc(256, 16).or_fail("heap");
        let (frontier, limit) = (r.thread_field(tl::FRONTIER), r.thread_field(tl::LIMIT));
        r.write_u64(frontier, heap).or_fail("frontier");
        r.write_u64(limit, heap + 16).or_fail("limit");
        let slow = r
            .host_fn(&[G4, Pint], Some(Ref), |c| {
                Some(val::reference(0x5100 + c.arg(0).bits))
            })
            .or_fail("gc_alloc");
        let stub = r.compile(figure1(slow)).or_fail("compile Figure 1");
        let sig = HostSig::new(&[G4, Pint], Some(Ref));
        let obj = r.call(stub, &sig, &[val::g4(16), val::pint(0xAB)]);
        assert_eq!(obj.or_fail("fast"), Some(val::reference(heap)));
        assert_eq!(r.read_u64(heap).or_fail("vtable"), 0xAB);
        assert_eq!(r.read_u64(frontier).or_fail("frontier"), heap + 16);
        let obj = r.call(stub, &sig, &[val::g4(16), val::pint(0xAB)]);
        assert_eq!(obj.or_fail("slow"), Some(val::reference(0x5110)));
        assert_eq!(m2n_head(&mut r), 0);
    }
);

// ------------------------------------------------------------- Figure 3

/// Everything the JNI test's host functions saw, in order.
#[derive(Clone, Debug, PartialEq)]
enum Jni {
    GcEnable,
    Pow {
        env: u64,
        handle: u64,
        class_in_handle: Result<u64, String>,
        x: u64,
        y: u64,
        frames: Vec<(u64, M2nFrame)>,
    },
    GcDisable,
    FreeHandles {
        frame: u64,
    },
    Rethrow {
        frames: Vec<(u64, M2nFrame)>,
    },
}

exec_test!(
    fn figure3_jni_math_pow(r: &mut Runner) {
        let method = 0x4D45_5448_4F44; // the VM's Method for Math.pow
        let class_object = r.alloc_words(&[0xC1A5_5000]).or_fail("class object");
        // `mi`: the field of Math's VM class structure holding its Class object.
        let class_struct = r.alloc_words(&[0, class_object]).or_fail("class");
        let mi = class_struct + 8;
        let jni_env = r.alloc_words(&[0xE4F]).or_fail("JNIEnv");
        let exception = r.alloc_words(&[0xE0]).or_fail("exception");
        let throw = Rc::new(std::cell::Cell::new(false));
        let (target, thread) = (r.target(), r.thread());
        let events: Log<Jni> = log();

        let e = events.clone();
        let gc_enable = r
            .host_fn(&[], None, move |_| {
                e.borrow_mut().push(Jni::GcEnable);
                Some(val::g8(0))
            })
            .or_fail("gc_enable");
        let e = events.clone();
        let gc_disable = r
            .host_fn(&[], None, move |_| {
                e.borrow_mut().push(Jni::GcDisable);
                Some(val::g8(0))
            })
            .or_fail("gc_disable");
        let (e, t) = (events.clone(), throw.clone());
        let pow = r
            .host_fn(&[Pint, Pint, F8, F8], Some(F8), move |c| {
                let handle = c.arg(1).bits;
                let (frames, failure) = walk_from_host(c, target, thread);
                let mut memory = lil_tests::exec::HostMemory::for_target(c, target);
                let class_in_handle = memory.read(handle);
                let (x, y) = (c.arg(2), c.arg(3));
                e.borrow_mut().push(Jni::Pow {
                    env: c.arg(0).bits,
                    handle,
                    class_in_handle,
                    x: x.bits,
                    y: y.bits,
                    frames: if failure.is_some() {
                        Vec::new()
                    } else {
                        frames
                    },
                });
                if t.get() {
                    let at = thread + tl::EXCEPTION as u64;
                    c.write_u64(at, exception).ok()?;
                }
                Some(Value::f8(x.as_f64().powf(y.as_f64())))
            })
            .or_fail("pow");
        let e = events.clone();
        let rethrow = r
            .host_fn(&[], None, move |c| {
                let (frames, _) = walk_from_host(c, target, thread);
                e.borrow_mut().push(Jni::Rethrow { frames });
                None
            })
            .or_fail("rethrow");
        let e = events.clone();
        let free_handles = r
            .host_fn(&[Pint], None, move |c| {
                e.borrow_mut().push(Jni::FreeHandles {
                    frame: c.arg(0).bits,
                });
                Some(val::g8(0))
            })
            .or_fail("free_handles");
        r.env_mut().m2n_hooks.free_handles = Some(free_handles);

        // Figure 3, with the handle block widened for 64-bit: the paper's
        // `alloc l0,8; ... st [l0+4:pint],0;` is {object, next} on IA-32;
        // here it is 16 bytes with `next` at 8.
        let text = format!(
            "entry 0:managed:f8,f8:f8;
             push_m2n {method:#x}, handles;
             locals 2;
             alloc l0, 16;
             ld l1, [{mi:#x}:ref];
             st [l0+0:ref], l1;
             st [l0+8:pint], 0;
             handles = l0;
             out platform::void;
             call {gc_enable:#x};
             out jni:pint,pint,f8,f8:f8;
             o0 = {jni_env:#x};
             o1 = l0;
             o2 = i0;
             o3 = i1;
             call {pow:#x};
             l1 = r;
             out platform::void;
             call {gc_disable:#x};
             l0 = ts;
             ld l0, [l0+{ceo}:ref];
             jc l0 = 0, no_exception;
             m2n_save_all;
             out platform::void;
             call.noret {rethrow:#x};
             :no_exception;
             r = l1;
             pop_m2n;
             ret;",
            ceo = tl::EXCEPTION
        );
        let stub = r.compile(&text).or_fail("compile Figure 3");
        let sig = HostSig::new(&[F8, F8], Some(F8));
        let (x, y) = (2.5f64, -1.75f64);

        // No exception: the result of pow, handles freed by pop_m2n.
        let got = r
            .call(stub, &sig, &[Value::f8(x), Value::f8(y)])
            .or_fail("call");
        assert_eq!(got, Some(Value::f8(x.powf(y))));
        let seen = std::mem::take(&mut *events.borrow_mut());
        assert_eq!(seen.len(), 4, "{seen:#?}");
        assert_eq!(seen[0], Jni::GcEnable);
        assert_eq!(seen[2], Jni::GcDisable);
        let Jni::Pow {
            env,
            handle,
            class_in_handle,
            x: px,
            y: py,
            frames,
        } = &seen[1]
        else {
            panic!("pow was not called second: {seen:#?}")
        };
        assert_eq!(*env, jni_env);
        assert_eq!((*px, *py), (x.to_bits(), y.to_bits()), "doubles changed");
        assert_eq!(
            class_in_handle.as_ref().map_err(String::as_str),
            Ok(&class_object),
            "the class handle must point at a slot holding Math's Class"
        );
        assert_eq!(frames.len(), 1, "pow runs under the stub's M2N frame");
        let (frame_at, f) = frames[0];
        assert_eq!(f.method, method);
        assert_eq!(f.local_handles, *handle, "handles = l0");
        assert!(
            *handle < f.caller_sp && *handle != frame_at,
            "the handle lives in the stub's frame"
        );
        assert_entry_return_address(r, f.return_address);
        assert_eq!(seen[3], Jni::FreeHandles { frame: frame_at });
        assert_eq!(m2n_head(r), 0);

        // The native method throws: gc_disable, then the rethrow, which does
        // not return; the frame is still linked for the VM's unwinder.
        throw.set(true);
        let got = r.call(stub, &sig, &[Value::f8(x), Value::f8(y)]);
        match got {
            Err(MachineError::Unwound(at)) => assert_eq!(at, rethrow),
            other => panic!("expected the rethrow to unwind, got {other:?}"),
        }
        let seen = std::mem::take(&mut *events.borrow_mut());
        assert_eq!(seen.len(), 4, "{seen:#?}");
        assert_eq!(seen[2], Jni::GcDisable);
        let Jni::Rethrow { frames } = &seen[3] else {
            panic!("no rethrow: {seen:#?}")
        };
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1.method, method);
        assert_eq!(m2n_head(r), frames[0].0, "rethrow leaves the frame linked");
        let head = r.thread_field(tl::M2N_LIST);
        r.write_u64(head, 0).or_fail("reset the list");
    }
);

// ------------------------------------------------------------ compile-me

/// The "compiled code": 8 integer, 8 f8 and 4 more integer arguments, so
/// some are on the stack on both targets (AArch64: 8 + 8 registers;
/// x86-64: 6 + 8).
fn compiled_sig() -> (Vec<Type>, Vec<Value>) {
    let mut params = vec![G8; 8];
    params.extend([F8; 8]);
    params.extend([G8; 4]);
    let args = params
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            F8 => Value::f8(-1.5e300 / (i as f64 + 0.25)),
            _ => {
                val::g8(0x1111_1111_1111_1111u64.wrapping_mul(i as u64 + 1) ^ 0x8000_0000_0000_0001)
            }
        })
        .collect();
    (params, args)
}

exec_test!(
    fn compile_me_specific_and_generic(r: &mut Runner) {
        let method = 0x00AB_CDEF_0123_4560;
        let (params, args) = compiled_sig();
        let (target, thread) = (r.target(), r.thread());
        let received: Log<Vec<Value>> = log();
        let rc = received.clone();
        let compiled = r
            .host_fn(&params, Some(G8), move |c| {
                rc.borrow_mut()
                    .push((0..20).map(|i| c.arg(i)).collect::<Vec<_>>());
                Some(val::g8(0x0C0D_E000 + 20))
            })
            .or_fail("compiled code");
        let compiles: Log<(u64, Walk)> = log();
        let cm = compiles.clone();
        let compile_me = r
            .host_fn(&[Pint], Some(Pint), move |c| {
                let walk = walk_from_host(c, target, thread);
                cm.borrow_mut().push((c.arg(0).bits, walk));
                Some(val::pint(compiled))
            })
            .or_fail("compile_me");
        let rethrow_if_pending = r
            .host_fn(&[], None, move |c| {
                let pending = c.read_u64(thread + tl::EXCEPTION as u64).ok()?;
                (pending == 0).then_some(val::g8(0))
            })
            .or_fail("rethrow_if_pending");

        let generic = r
            .compile(format!(
                "entry 1:managed:arbitrary;
                 push_m2n 0, {ft:#x};
                 m2n_save_all;
                 out platform:pint:pint;
                 o0 = sp0;
                 call {compile_me:#x};
                 locals 1;
                 l0 = r;
                 out platform::void;
                 call {rethrow_if_pending:#x};
                 pop_m2n;
                 tailcall l0;",
                ft = frame_type::COMPILATION
            ))
            .or_fail("compile the generic compile-me stub");
        let specific = r
            .compile(format!(
                "entry 0:managed:arbitrary;
                 std_places 1;
                 sp0 = {method:#x};
                 tailcall {generic:#x};"
            ))
            .or_fail("compile the specific compile-me stub");

        let sig = HostSig::new(&params, Some(G8));
        for round in 0..2 {
            let got = r
                .call(specific, &sig, &args)
                .or_fail("call through compile-me");
            assert_eq!(got, Some(val::g8(0x0C0D_E000 + 20)), "round {round}");
        }
        for got in received.borrow().iter() {
            for (i, (g, want)) in got.iter().zip(&args).enumerate() {
                assert_eq!(g.bits, want.bits, "argument {i} ({}) changed", params[i]);
            }
        }
        assert_eq!(received.borrow().len(), 2);
        {
            let compiles = compiles.borrow();
            assert_eq!(compiles.len(), 2);
            let (m, walk) = &compiles[0];
            assert_eq!(*m, method, "compile_me gets the method from sp0");
            let frames = frames_of(walk);
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].1.frame_type, frame_type::COMPILATION);
            assert_entry_return_address(r, frames[0].1.return_address);
        }
        assert_eq!(m2n_head(r), 0);

        // A pending exception after compilation: the generic stub rethrows,
        // the compiled code never runs.
        let ex = r.thread_field(tl::EXCEPTION);
        r.write_u64(ex, 0xE).or_fail("exception");
        match r.call(specific, &sig, &args) {
            Err(MachineError::Unwound(at)) => assert_eq!(at, rethrow_if_pending),
            other => panic!("expected the rethrow, got {other:?}"),
        }
        assert_eq!(
            received.borrow().len(),
            2,
            "compiled code ran despite the exception"
        );
    }
);

// ------------------------------------------------------------ checkcast

/// A small class model in machine memory: class structures
/// `{fast_instanceof_flag: g4, depth: g4, junk: g8}`, vtables
/// `{clss, superclasses[4]}` and objects `{vtable}`.
struct Classes {
    a: u64,
    b: u64,
    interface: u64,
    obj_a: u64,
    obj_b: u64,
}

fn classes(r: &mut Runner) -> Classes {
    let junk = 0xBAD0_BAD0_BAD0_BAD0;
    // Flag and depth share a word, so an 8-byte load of either is caught;
    // the interface has a non-zero depth but a zero flag.
    let a = r.alloc_words(&[1 | (1 << 32), junk]).or_fail("A");
    let b = r.alloc_words(&[1 | (2 << 32), junk]).or_fail("B");
    let interface = r.alloc_words(&[3 << 32, junk]).or_fail("I");
    let vt_a = r.alloc_words(&[a, a, 0, 0, 0]).or_fail("vtable A");
    let vt_b = r.alloc_words(&[b, a, b, 0, 0]).or_fail("vtable B");
    let obj_a = r.alloc_words(&[vt_a, 0]).or_fail("an A");
    let obj_b = r.alloc_words(&[vt_b, 0]).or_fail("a B");
    Classes {
        a,
        b,
        interface,
        obj_a,
        obj_b,
    }
}

exec_test!(
    fn drlvm_checkcast(r: &mut Runner) {
        let k = classes(r);
        let subtype_calls: Log<(u64, u64)> = log();
        let s = subtype_calls.clone();
        let b = k.b;
        let class_is_subtype = r
            .host_fn(&[Pint, Pint], Some(G4), move |c| {
                let (sub, sup) = (c.arg(0).bits, c.arg(1).bits);
                s.borrow_mut().push((sub, sup));
                Some(val::g4(u32::from(sub == b)))
            })
            .or_fail("class_is_subtype");
        let throws: Log<(u64, u64)> = log();
        let t = throws.clone();
        let throw_class_cast = r
            .host_fn(&[Ref, Pint], None, move |c| {
                t.borrow_mut().push((c.arg(0).bits, c.arg(1).bits));
                None
            })
            .or_fail("throw stub");
        // 05_rth_checkcast.lil with: managed_null = 0, fast-instanceof flag
        // at 0, depth at 4, vtable at object offset 0, sizeof(Class*) = 8,
        // superclasses at vtable offset 8 (so 8 - 8 = 0), clss at 0.
        let text = format!(
            "entry 0:stdcall:ref,pint:ref;
             locals 2;
             jc i0!=0:ref,null_check_failed;
             r=i0; ret;
             :null_check_failed;
             ld l0,[i1+0:g4];
             jc l0=0,slowpath;
             ld l1,[i1+4:g4],zx;
             ld l0,[i0+0:pint];
             ld l0,[l0+8*l1+0:pint];
             jc l0!=i1,failed;
             r=i0; ret;
             :slowpath;
             out platform:pint,pint:g4;
             ld l0,[i0+0:pint];
             ld o0,[l0+0:pint];
             o1=i1;
             call {class_is_subtype:#x};
             jc r=0,failed;
             r=i0; ret;
             :failed; tailcall {throw_class_cast:#x};"
        );
        let stub = r.compile(&text).or_fail("compile checkcast");
        let sig = HostSig::new(&[Ref, Pint], Some(Ref));
        let cast = |r: &mut Runner, obj: u64, class: u64| {
            r.call(stub, &sig, &[val::reference(obj), val::pint(class)])
        };

        // null passes without reading the class (this one is unmapped).
        assert_eq!(
            cast(r, 0, 0xDEAD_0000).or_fail("null"),
            Some(val::reference(0))
        );
        // Fast path through the superclass table.
        assert_eq!(
            cast(r, k.obj_b, k.a).or_fail("B as A"),
            Some(val::reference(k.obj_b))
        );
        assert_eq!(
            cast(r, k.obj_b, k.b).or_fail("B as B"),
            Some(val::reference(k.obj_b))
        );
        assert_eq!(
            cast(r, k.obj_a, k.a).or_fail("A as A"),
            Some(val::reference(k.obj_a))
        );
        assert!(subtype_calls.borrow().is_empty());
        assert!(throws.borrow().is_empty());
        // Fails on the fast path: tail call to the throw stub with the
        // stub's own arguments.
        match cast(r, k.obj_a, k.b) {
            Err(MachineError::Unwound(at)) => assert_eq!(at, throw_class_cast),
            other => panic!("A as B must throw, got {other:?}"),
        }
        assert_eq!(throws.borrow().as_slice(), &[(k.obj_a, k.b)]);
        // The interface has no fast flag: the slow path asks the VM.
        let got = cast(r, k.obj_b, k.interface).or_fail("B as I");
        assert_eq!(got, Some(val::reference(k.obj_b)));
        assert_eq!(subtype_calls.borrow().as_slice(), &[(k.b, k.interface)]);
        match cast(r, k.obj_a, k.interface) {
            Err(MachineError::Unwound(at)) => assert_eq!(at, throw_class_cast),
            other => panic!("A as I must throw, got {other:?}"),
        }
        assert_eq!(subtype_calls.borrow().len(), 2);
        assert_eq!(throws.borrow()[1], (k.obj_a, k.interface));
    }
);

// ------------------------------------------------------------ allocation

exec_test!(
    fn drlvm_new_resolved_using_vtable_and_size(r: &mut Runner) {
        // The GC's thread-local data: {frontier, limit} at ts + FREE.
        let gc_off = tl::FREE;
        let gc = r.thread_field(gc_off);
        let heap = r.alloc(64, 16).or_fail("heap");
        r.write_u64(gc, heap).or_fail("frontier");
        r.write_u64(gc + 8, heap + 48).or_fail("limit");
        let big = r.alloc(4096, 16).or_fail("old space");
        let (target, thread) = (r.target(), r.thread());

        let fast_calls: Log<(u64, u64, u64)> = log();
        let f = fast_calls.clone();
        let fast = r
            .host_fn(&[G4, Pint, Pint], Some(Ref), move |c| {
                let (size, vt, gc) = (c.arg(0).bits, c.arg(1).bits, c.arg(2).bits);
                f.borrow_mut().push((size, vt, gc));
                let (frontier, limit) = (c.read_u64(gc).ok()?, c.read_u64(gc + 8).ok()?);
                if frontier + size > limit {
                    return Some(val::reference(0));
                }
                c.write_u64(frontier, vt).ok()?;
                c.write_u64(gc, frontier + size).ok()?;
                Some(val::reference(frontier))
            })
            .or_fail("gc_alloc_fast");
        let slow_calls: Log<(u64, u64, u64, Walk)> = log();
        let s = slow_calls.clone();
        let slow = r
            .host_fn(&[G4, Pint, Pint], Some(Ref), move |c| {
                let walk = walk_from_host(c, target, thread);
                let (size, vt, gc) = (c.arg(0).bits, c.arg(1).bits, c.arg(2).bits);
                s.borrow_mut().push((size, vt, gc, walk));
                c.write_u64(big, vt).ok()?;
                Some(val::reference(big))
            })
            .or_fail("vm_malloc_with_thread_pointer");
        // 32_em64t_new_resolved_using_vtable_and_size.lil.
        let text = format!(
            "entry 0:stdcall:g4,pint:ref;
             locals 1;
             l0 = ts;
             out platform:g4,pint,pint:ref;
             o0 = i0;
             o1 = i1;
             o2 = l0+{gc_off}:pint;
             call {fast:#x};
             jc r = 0, alloc_slow;
             ret;
             :alloc_slow;
             push_m2n 0, 0;
             out platform:g4,pint,pint:ref;
             o0 = i0;
             o1 = i1;
             o2 = l0+{gc_off}:pint;
             call {slow:#x};
             pop_m2n;
             ret;"
        );
        let stub = r.compile(&text).or_fail("compile the allocation stub");
        let sig = HostSig::new(&[G4, Pint], Some(Ref));
        let got = r.call(stub, &sig, &[val::g4(32), val::pint(0x71)]);
        assert_eq!(got.or_fail("fast"), Some(val::reference(heap)));
        assert_eq!(r.read_u64(heap).or_fail("vtable"), 0x71);
        assert_eq!(r.read_u64(gc).or_fail("frontier"), heap + 32);
        assert!(slow_calls.borrow().is_empty());

        let got = r.call(stub, &sig, &[val::g4(24), val::pint(0x72)]);
        assert_eq!(got.or_fail("slow"), Some(val::reference(big)));
        assert_eq!(r.read_u64(big).or_fail("vtable"), 0x72);
        assert_eq!(r.read_u64(gc).or_fail("frontier"), heap + 32);
        assert_eq!(
            fast_calls.borrow().as_slice(),
            &[(32, 0x71, gc), (24, 0x72, gc)]
        );
        let slow_calls = slow_calls.borrow();
        assert_eq!(slow_calls.len(), 1);
        let (size, vt, g, walk) = &slow_calls[0];
        assert_eq!(
            (*size, *vt, *g),
            (24, 0x72, gc),
            "inputs survive the fast call"
        );
        let frames = frames_of(walk);
        assert_eq!(frames.len(), 1);
        assert_eq!((frames[0].1.method, frames[0].1.frame_type), (0, 0));
        assert_eq!(m2n_head(r), 0);
    }
);

// ------------------------------------------------------ monitor enter

exec_test!(
    fn cas_monitor_enter(r: &mut Runner) {
        let tid = 0x7E1D;
        let id_at = r.thread_field(tl::THREAD_ID);
        r.write_u64(id_at, tid).or_fail("thread id");
        let (target, thread) = (r.target(), r.thread());
        let contended: Log<(u64, Walk)> = log();
        let c2 = contended.clone();
        let slow = r
            .host_fn(&[Ref], None, move |c| {
                let walk = walk_from_host(c, target, thread);
                c2.borrow_mut().push((c.arg(0).bits, walk));
                Some(val::g8(0))
            })
            .or_fail("monitor_enter_slow");
        // A thin lock: the lock word at object offset 8 goes from 0 to the
        // owner's thread id; otherwise the VM inflates or waits.
        let text = format!(
            "entry 0:managed:ref:void;
             locals 1;
             l0 = ts;
             ld l0, [l0+{id}:pint];
             cas [i0+8:pint] = 0, l0, contended;
             ret;
             :contended;
             push_m2n 0, 0;
             in2out platform:void;
             call {slow:#x};
             pop_m2n;
             ret;",
            id = tl::THREAD_ID
        );
        let stub = r.compile(&text).or_fail("compile monitor enter");
        let sig = HostSig::new(&[Ref], None);
        let obj = r.alloc_words(&[0x0B1, 0, 0x5E17]).or_fail("object");

        r.call(stub, &sig, &[val::reference(obj)])
            .or_fail("uncontended");
        assert_eq!(r.read_u64(obj + 8).or_fail("lock"), tid, "locked by us");
        assert_eq!(r.read_u64(obj).or_fail("header"), 0x0B1);
        assert_eq!(r.read_u64(obj + 16).or_fail("next field"), 0x5E17);
        assert!(contended.borrow().is_empty());

        // Held (by us, then by another thread): the slow path, lock unchanged.
        r.call(stub, &sig, &[val::reference(obj)])
            .or_fail("recursive");
        r.write_u64(obj + 8, 0x0DD).or_fail("other owner");
        r.call(stub, &sig, &[val::reference(obj)])
            .or_fail("contended");
        assert_eq!(r.read_u64(obj + 8).or_fail("lock"), 0x0DD);
        let contended = contended.borrow();
        assert_eq!(contended.len(), 2);
        for (arg, walk) in contended.iter() {
            assert_eq!(*arg, obj);
            assert_eq!(
                frames_of(walk).len(),
                1,
                "the slow path runs under an M2N frame"
            );
        }
        assert_eq!(m2n_head(r), 0);
    }
);

exec_test!(
    /// `cas` at every width: success writes exactly the width, failure
    /// nothing; the comparison is at the width (bits around it differ).
    fn cas_every_width(r: &mut Runner) {
        for ty in [G1, G2, G4, G8] {
            let text = format!(
                "entry 0:platform:pint,{ty},{ty}:g4;
                 cas [i0+8:{ty}] = i1, i2, fail;
                 r = 1:g4; ret;
                 :fail; r = 0:g4; ret;"
            );
            let stub = r.compile(&text).or_fail("compile cas");
            let sig = HostSig::new(&[Pint, ty, ty], Some(G4));
            let n = ty.size() as usize;
            let mem = r.alloc(32, 16).or_fail("memory");
            let pattern: Vec<u8> = (0..32u8).map(|i| 0xA0 ^ i).collect();
            let old = 0x8877_6655_4433_2211u64 & mask(ty);
            let new = 0x1122_3344_5566_7788u64 & mask(ty);
            for (case, mem_value, cmp, want) in [
                ("equal", old, old, 1),
                ("different", old, old ^ 1, 0),
                ("different high bit", old, old ^ (1 << (ty.bits() - 1)), 0),
            ] {
                r.write_bytes(mem, &pattern).or_fail("fill");
                r.write_uint(mem + 8, n, mem_value).or_fail("value");
                let args = [
                    val::pint(mem),
                    val::dirty(ty, cmp, 0x5A5A_5A5A_5A5A_5A5A),
                    val::dirty(ty, new, 0xA5A5_A5A5_A5A5_A5A5),
                ];
                let got = r.call(stub, &sig, &args).or_fail("cas");
                assert_eq!(got, Some(val::g4(want)), "{ty} {case}");
                let mut expect = pattern.clone();
                let stored = if want == 1 { new } else { mem_value };
                expect[8..8 + n].copy_from_slice(&stored.to_le_bytes()[..n]);
                assert_eq!(r.read_bytes(mem, 32).or_fail("read"), expect, "{ty} {case}");
            }
        }
    }
);

fn mask(ty: Type) -> u64 {
    match ty.bits() {
        64 => u64::MAX,
        n => (1 << n) - 1,
    }
}

// ------------------------------------------------------------ stack walks

exec_test!(
    fn m2n_walk_from_a_host_call(r: &mut Runner) {
        let (target, thread) = (r.target(), r.thread());
        let walks: Log<(u64, Walk)> = log();
        let w = walks.clone();
        let walker = r
            .host_fn(&[Pint], Some(G8), move |c| {
                let walk = walk_from_host(c, target, thread);
                let n = walk.0.len() as u64;
                w.borrow_mut().push((c.arg(0).bits, walk));
                Some(val::g8(0x1000 + n))
            })
            .or_fail("walker");
        let hooked: Log<(u64, u64)> = log();
        let h = hooked.clone();
        let pending = r
            .host_fn(&[Pint], None, move |c| {
                // The frame is still the list head while pop_m2n's hooks run.
                let head = c.read_u64(thread + tl::M2N_LIST as u64).ok()?;
                h.borrow_mut().push((c.arg(0).bits, head));
                Some(val::g8(0))
            })
            .or_fail("pending exception hook");
        r.env_mut().m2n_hooks.pending_exception = Some(pending);
        let method = 0x0123_4567_89AB_CDE0;
        let stub = r
            .compile(format!(
                "entry 0:managed:pint:g8;
                 push_m2n {method:#x}, {ft:#x};
                 out platform:pint:g8;
                 o0 = i0;
                 call {walker:#x};
                 pop_m2n;
                 ret;",
                ft = frame_type::JNI
            ))
            .or_fail("compile");
        let sig = HostSig::new(&[Pint], Some(G8));
        let got = r.call(stub, &sig, &[val::pint(0xA1)]).or_fail("call");
        let walks = walks.borrow();
        let (arg, walk) = &walks[0];
        assert_eq!(*arg, 0xA1);
        let frames = frames_of(walk);
        assert_eq!(got, Some(val::g8(0x1001)), "r survives pop_m2n's hook call");
        assert_eq!(frames.len(), 1);
        let (at, f) = frames[0];
        assert_eq!(f.method, method);
        assert_eq!(f.frame_type, frame_type::JNI);
        assert_eq!((f.prev, f.link), (0, r.thread_field(tl::M2N_LIST)));
        assert_entry_return_address(r, f.return_address);
        assert_eq!(
            f.caller_sp % 16,
            0,
            "the caller's sp after return is aligned"
        );
        assert!(f.caller_sp > at && f.caller_sp - at < 4096);
        if let Some(top) = r.entry_stack_top() {
            assert_eq!(f.caller_sp, top);
        }
        assert_eq!(hooked.borrow().as_slice(), &[(at, at)]);
        assert_eq!(m2n_head(r), 0);
        assert!(r.m2n_frames().is_empty());
    }
);

exec_test!(
    fn m2n_walk_nested_frames(r: &mut Runner) {
        let (target, thread) = (r.target(), r.thread());
        let walks: Log<Walk> = log();
        let w = walks.clone();
        let walker = r
            .host_fn(&[Pint], Some(G8), move |c| {
                w.borrow_mut().push(walk_from_host(c, target, thread));
                Some(val::g8(c.arg(0).bits * 3))
            })
            .or_fail("walker");
        let hooked: Log<u64> = log();
        let h = hooked.clone();
        let pending = r
            .host_fn(&[Pint], None, move |c| {
                h.borrow_mut().push(c.arg(0).bits);
                Some(val::g8(0))
            })
            .or_fail("pending exception hook");
        r.env_mut().m2n_hooks.pending_exception = Some(pending);
        let (method_a, method_b) = (0xAAA0, 0xBBB0);
        let inner = r
            .compile_full(format!(
                "entry 0:platform:pint:g8;
                 push_m2n {method_b:#x}, {ft:#x};
                 out platform:pint:g8;
                 o0 = i0;
                 call {walker:#x};
                 pop_m2n;
                 ret;",
                ft = frame_type::COMPILATION
            ))
            .or_fail("compile the inner stub");
        let outer = r
            .compile_full(format!(
                "entry 0:managed:pint:g8;
                 push_m2n {method_a:#x}, {ft:#x};
                 out platform:pint:g8;
                 o0 = i0 + 1;
                 call {inner:#x};
                 pop_m2n;
                 r = r + 1;
                 ret;",
                inner = inner.addr,
                ft = frame_type::JNI
            ))
            .or_fail("compile the outer stub");
        let sig = HostSig::new(&[Pint], Some(G8));
        let got = r.call(outer.addr, &sig, &[val::pint(10)]).or_fail("call");
        assert_eq!(got, Some(val::g8(34)));
        let walks = walks.borrow();
        let frames = frames_of(&walks[0]);
        assert_eq!(frames.len(), 2, "two frames, most recent first: {frames:?}");
        let ((b_at, b), (a_at, a)) = (frames[0], frames[1]);
        assert_eq!(
            (b.method, b.frame_type),
            (method_b, frame_type::COMPILATION)
        );
        assert_eq!((a.method, a.frame_type), (method_a, frame_type::JNI));
        assert_eq!(b.prev, a_at);
        assert_eq!(a.prev, 0);
        assert!(b_at < a_at, "the inner frame is deeper in the stack");
        assert!(
            outer.contains(b.return_address),
            "the inner stub returns into the outer one ({:#x} not in {:#x}+{})",
            b.return_address,
            outer.addr,
            outer.len
        );
        assert_entry_return_address(r, a.return_address);
        assert!(
            b.caller_sp <= a_at,
            "the outer frame is in the caller's part"
        );
        assert_eq!(hooked.borrow().as_slice(), &[b_at, a_at]);
        assert_eq!(m2n_head(r), 0);
    }
);

// ---------------------------------------------------------- print hook

exec_test!(
    fn print_goes_to_the_host(r: &mut Runner) {
        // The text is embedded in the code, which `HostCall::read` does not
        // reach on either machine: its address and length are checked.
        let printed: Log<(u64, u64, u64)> = log();
        let p = printed.clone();
        let print = r
            .host_fn(&[Pint, Pint, G8], None, move |c| {
                p.borrow_mut()
                    .push((c.arg(0).bits, c.arg(1).bits, c.arg(2).bits));
                Some(val::g8(0))
            })
            .or_fail("print");
        r.env_mut().print = Some(print);
        let stub = r
            .compile_full("entry 0:platform:g8:g8; print 'value:', i0; r = i0 + 1; ret;")
            .or_fail("compile");
        let sig = HostSig::new(&[G8], Some(G8));
        let got = r.call(stub.addr, &sig, &[val::g8(41)]).or_fail("run");
        assert_eq!(got, Some(val::g8(42)), "print preserves the inputs");
        let printed = printed.borrow();
        assert_eq!(printed.len(), 1);
        let (at, len, value) = printed[0];
        assert_eq!((len, value), (6, 41));
        assert!(
            stub.contains(at),
            "the message is embedded in the stub's code"
        );
    }
);

// ------------------------------------------------ callee-saved registers

exec_test!(
    fn m2n_frame_records_the_callers_callee_saved_registers(r: &mut Runner) {
        // The outer stub keeps 30 locals live across its call, so the
        // callee-saved registers hold some of them when the inner stub
        // pushes its frame; an unwinder restores them from `saved_gp`.
        let (target, thread) = (r.target(), r.thread());
        let walks: Log<Walk> = log();
        let w = walks.clone();
        let walker = r
            .host_fn(&[Pint], Some(G8), move |c| {
                w.borrow_mut().push(walk_from_host(c, target, thread));
                Some(val::g8(c.arg(0).bits))
            })
            .or_fail("walker");
        let inner = r
            .compile(format!(
                "entry 0:platform:g8:g8;
                 push_m2n 0x1, 0;
                 out platform:pint:g8;
                 o0 = i0:pint;
                 call {walker:#x};
                 pop_m2n;
                 ret;"
            ))
            .or_fail("inner");
        let local = |k: u64| 0x5A00_0000_0000_5100 + 0x100 * k;
        let mut text = String::from("entry 0:platform:g8:g8; locals 30;");
        for k in 0..30 {
            text += &format!(" l{k} = i0 + {:#x};", local(k) - 7);
        }
        text += &format!(" out platform:g8:g8; o0 = i0; call {inner:#x};");
        for k in 0..30 {
            text += &format!(" r = r + l{k};");
        }
        text += " ret;";
        let got = r.run(&text, &[val::g8(7)]).or_fail("run");
        let sum = (0..30).fold(7u64, |a, k| a.wrapping_add(local(k)));
        assert_eq!(got, Some(val::g8(sum)));
        let walks = walks.borrow();
        let frames = frames_of(&walks[0]);
        assert_eq!(frames.len(), 1);
        // The interpreter has no callee-saved registers: its frames record
        // zeros in `saved_gp`, so only the machine-code targets check them.
        let Some(backend) = r.target().backend() else {
            assert_eq!(frames[0].1.saved_gp, [0; 10], "eval records no registers");
            return;
        };
        let saved = backend.desc().m2n_saved_gp.len();
        let values: Vec<u64> = (0..30).map(local).collect();
        let recorded = frames[0].1.saved_gp[..saved]
            .iter()
            .filter(|v| values.contains(v))
            .count();
        assert!(
            recorded >= 3.min(saved),
            "saved_gp {:x?} holds {recorded} of the caller's locals",
            &frames[0].1.saved_gp[..saved]
        );
    }
);

// ------------------------------------------------- a VM's own convention

exec_test!(
    fn managed_convention_described_by_the_host(r: &mut Runner) {
        // `managed` with the argument registers in reverse order: a platform
        // stub calls a managed stub, which calls a platform host function.
        // The interpreter passes values, not registers: for it the
        // convention changes nothing, and the same results are checked.
        let desc = r
            .target()
            .backend()
            .unwrap_or(&lil_codegen_x64::X64Backend)
            .desc();
        let mut managed = desc.c_abi.clone();
        managed.name = "reversed".into();
        managed.gp_args = managed
            .gp_args
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .into();
        managed.fp_args = managed
            .fp_args
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .into();
        r.env_mut().managed = Some(managed);
        let seen: Log<Vec<Value>> = log();
        let s = seen.clone();
        let host = r
            .host_fn(&[G8, G8, F8, F8], Some(G8), move |c| {
                s.borrow_mut().push((0..4).map(|i| c.arg(i)).collect());
                Some(val::g8(c.arg(0).bits.wrapping_sub(c.arg(1).bits)))
            })
            .or_fail("host");
        let m = r
            .compile(format!(
                "entry 0:managed:g8,g8,f8,f8:g8;
                 in2out platform:g8;
                 call {host:#x};
                 r = r + i0;
                 ret;"
            ))
            .or_fail("managed stub");
        let p = format!(
            "entry 0:platform:g8,g8,f8,f8:g8;
             in2out managed:g8;
             call {m:#x};
             ret;"
        );
        let args = [val::g8(100), val::g8(58), Value::f8(1.5), Value::f8(-2.5)];
        let got = r.run(&p, &args).or_fail("run");
        assert_eq!(got, Some(val::g8(142)));
        assert_eq!(seen.borrow().as_slice(), &[args.to_vec()]);
    }
);
