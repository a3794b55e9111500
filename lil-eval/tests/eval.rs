//! The interpreter's own contract: its errors, limits, address space and
//! M2N frames. (What every instruction computes is checked by the execution
//! suite in `tests/`, which runs each test on the interpreter too.)

use std::cell::RefCell;
use std::rc::Rc;

use lil_codegen::m2n::{M2nFrame, M2nWalker, MemoryRead};
use lil_codegen::{HostEnv, ThreadPointer};
use lil_eval::{EXIT, EvalError, EvalMachine, STACK_TOP};
use lil_machine::{HostCall, HostSig, Machine, MachineError, Value};
use lil_syntax::Type::{G4, G8, Pint};

fn machine() -> (EvalMachine, HostEnv) {
    let mut m = EvalMachine::new();
    let thread = m.alloc(64, 16).unwrap();
    m.set_thread_pointer(thread).unwrap();
    (m, HostEnv::new(ThreadPointer::TlsSlot { offset: 0 }, 8))
}

fn install(m: &mut EvalMachine, env: &HostEnv, text: &str) -> u64 {
    m.install_stub(lil_check::assert_valid(text), env)
        .unwrap()
        .addr
}

#[track_caller]
fn expect_error(result: Result<Option<Value>, EvalError>, want: &str) -> EvalError {
    match result {
        Err(e) => {
            assert!(e.to_string().contains(want), "`{e}` does not say `{want}`");
            e
        }
        Ok(v) => panic!("expected an error saying `{want}`, got {v:?}"),
    }
}

#[test]
fn an_access_outside_memory_names_the_instruction() {
    let (mut m, env) = machine();
    let f = install(
        &mut m,
        &env,
        "entry 0:platform:pint:g8; ld r, [i0+8:g8]; ret;",
    );
    let sig = HostSig::new(&[Pint], Some(G8));
    let e = expect_error(m.call_eval(f, &sig, &[Value::pint(0x10)]), "0x18");
    assert!(matches!(
        e.innermost(),
        EvalError::BadAccess { addr: 0x18, len: 8 }
    ));
    assert!(e.to_string().contains("ld r, [i0+8:g8];"), "{e}");
    // Through the Machine trait it is an execution error.
    assert!(matches!(
        m.call(f, &sig, &[Value::pint(0x10)]),
        Err(MachineError::Execution(_))
    ));
    // A store just past an allocation does not reach the next one.
    let a = m.alloc(8, 8).unwrap();
    let _b = m.alloc(8, 8).unwrap();
    let f = install(
        &mut m,
        &env,
        "entry 0:platform:pint:void; st [i0+8:g8], 1:g8; ret;",
    );
    let sig = HostSig::new(&[Pint], None);
    expect_error(m.call_eval(f, &sig, &[Value::pint(a)]), "outside");
}

#[test]
fn calls_to_addresses_without_code_fail() {
    let (mut m, env) = machine();
    let f = install(
        &mut m,
        &env,
        "entry 0:platform::void; out platform::void; call 0x1234; ret;",
    );
    let e = expect_error(m.call_eval(f, &HostSig::new(&[], None), &[]), "0x1234");
    assert!(matches!(
        e.innermost(),
        EvalError::NotCallable { addr: 0x1234 }
    ));
    assert!(m.install(&[0xc3]).is_err(), "no machine code");
}

#[test]
fn fuel_stops_an_endless_loop() {
    let (mut m, env) = machine();
    let f = install(&mut m, &env, "entry 0:platform::void; :a; j a;");
    m.set_fuel(Some(1000));
    expect_error(m.call_eval(f, &HostSig::new(&[], None), &[]), "out of fuel");
    assert_eq!(m.executed(), 1001);
}

/// A stub that calls the stub whose address is in `cell` with `i0 - 1`
/// until `i0` is 0, and returns the depth reached.
fn recursive(m: &mut EvalMachine, env: &HostEnv, alloc: u32) -> (u64, u64) {
    let cell = m.alloc(8, 8).unwrap();
    let text = format!(
        "entry 0:platform:g8:g8; locals 2; alloc l1, {alloc}; st [l1+0:g8], i0;
         jc i0 = 0, done;
         ld l0, [{cell:#x}:pint];
         out platform:g8:g8; o0 = i0 - 1; call l0; r = r + 1; ret;
         :done; ld r, [l1+0:g8]; ret;"
    );
    let f = install(m, env, &text);
    m.write_u64(cell, f).unwrap();
    (f, cell)
}

#[test]
fn deep_recursion_uses_the_guest_stack_not_rusts() {
    let (mut m, env) = machine();
    let (f, _) = recursive(&mut m, &env, 8);
    let sig = HostSig::new(&[G8], Some(G8));
    let depth = 20_000;
    let got = m.call(f, &sig, &[Value::int(G8, depth)]).unwrap();
    assert_eq!(got, Some(Value::int(G8, depth)));
}

#[test]
fn the_guest_stack_overflows_with_an_error() {
    let (mut m, env) = machine();
    let (f, _) = recursive(&mut m, &env, 1 << 20);
    let sig = HostSig::new(&[G8], Some(G8));
    // Eight 1 MiB frames do not fit an 8 MiB stack with the frame records.
    let e = expect_error(
        m.call_eval(f, &sig, &[Value::int(G8, 100)]),
        "stack overflow",
    );
    assert!(matches!(e.innermost(), EvalError::StackOverflow));
    // Fewer do.
    let got = m.call(f, &sig, &[Value::int(G8, 6)]).unwrap();
    assert_eq!(got, Some(Value::int(G8, 6)));
}

#[test]
fn host_functions_that_misbehave() {
    let (mut m, env) = machine();
    let returns = m
        .host_fn(HostSig::new(&[], None), Box::new(|_| Some(Value::pint(0))))
        .unwrap();
    let panics = m
        .host_fn(
            HostSig::new(&[G8], None),
            Box::new(|c| {
                let _ = c.arg(1);
                Some(Value::pint(0))
            }),
        )
        .unwrap();
    let throws = m
        .host_fn(HostSig::new(&[], None), Box::new(|_| None))
        .unwrap();
    let noret = install(
        &mut m,
        &env,
        &format!("entry 0:platform::void; out platform::void; call.noret {returns:#x};"),
    );
    let e = expect_error(
        m.call_eval(noret, &HostSig::new(&[], None), &[]),
        "returned",
    );
    assert!(matches!(e.innermost(), EvalError::NoReturnReturned(a) if *a == returns));
    let sig = HostSig::new(&[G8], None);
    expect_error(
        m.call_eval(panics, &sig, &[Value::int(G8, 1)]),
        "argument 1 requested",
    );
    assert!(matches!(
        m.call(throws, &HostSig::new(&[], None), &[]),
        Err(MachineError::Unwound(a)) if a == throws
    ));
    // Arguments that do not match the signature.
    expect_error(m.call_eval(panics, &sig, &[]), "signature mismatch");
}

/// Memory a walker reads through a host call.
struct Host<'a>(&'a mut dyn HostCall);

impl MemoryRead for Host<'_> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        self.0.read_u64(addr).ok()
    }
}

#[test]
fn m2n_frames_have_the_codegen_layout() {
    let (mut m, env) = machine();
    let thread = m.alloc(64, 16).unwrap();
    m.set_thread_pointer(thread).unwrap();
    type Seen = Rc<RefCell<Vec<(u64, M2nFrame)>>>;
    let seen: Seen = Rc::default();
    let s = seen.clone();
    let walker = m
        .host_fn(
            HostSig::new(&[], None),
            Box::new(move |c| {
                s.borrow_mut()
                    .extend(M2nWalker::new(Host(c), thread, 8).collect::<Vec<_>>());
                Some(Value::pint(0))
            }),
        )
        .unwrap();
    let inner = install(
        &mut m,
        &env,
        &format!(
            "entry 0:platform::void; push_m2n 0x22, 0x82, handles; locals 1; alloc l0, 8;
             handles = l0; out platform::void; call {walker:#x}; pop_m2n; ret;"
        ),
    );
    let outer = install(
        &mut m,
        &env,
        &format!(
            "entry 0:platform::void; push_m2n 0x11;
             out platform::void; call {inner:#x}; pop_m2n; ret;"
        ),
    );
    m.call(outer, &HostSig::new(&[], None), &[]).unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    let ((b_at, b), (a_at, a)) = (seen[0], seen[1]);
    assert_eq!((a.method, a.frame_type, a.prev), (0x11, 0, 0));
    assert_eq!(
        (a.return_address, a.caller_sp, a.caller_fp),
        (EXIT, STACK_TOP, 0)
    );
    assert_eq!(a.link, thread + 8);
    assert_eq!((b.method, b.frame_type, b.prev), (0x22, 0x82, a_at));
    // The inner stub was called at instruction 2 of the outer one.
    assert_eq!(b.return_address, outer + 4 * 3);
    assert!(b.caller_sp <= a_at && b_at < a_at);
    assert!(
        b.local_handles < b_at,
        "the handle lives in the alloc area below"
    );
    assert_eq!(b.caller_sp % 16, 0);
    assert_eq!(b.saved_gp, [0; 10], "no registers to record");
    assert_eq!(m.read_u64(thread + 8).unwrap(), 0, "both frames popped");
}

#[test]
fn print_texts_are_readable_and_read_only() {
    let (mut m, mut env) = machine();
    let printed: Rc<RefCell<Vec<(String, u64)>>> = Rc::default();
    let p = printed.clone();
    let print = m
        .host_fn(
            HostSig::new(&[Pint, Pint, G8], None),
            Box::new(move |c| {
                let mut text = vec![0; c.arg(1).bits as usize];
                c.read(c.arg(0).bits, &mut text).ok()?;
                // Texts cannot be written.
                assert!(c.write(c.arg(0).bits, b"x").is_err());
                p.borrow_mut()
                    .push((String::from_utf8_lossy(&text).into(), c.arg(2).bits));
                Some(Value::pint(0))
            }),
        )
        .unwrap();
    env.print = Some(print);
    let f = install(
        &mut m,
        &env,
        "entry 0:platform:g4:g4; print 'first', i0; print 'second'; r = i0; ret;",
    );
    let got = m
        .call(
            f,
            &HostSig::new(&[G4], Some(G4)),
            &[Value::int(G4, 0xffff_ffff)],
        )
        .unwrap();
    assert_eq!(got, Some(Value::int(G4, 0xffff_ffff)));
    assert_eq!(
        printed.borrow().as_slice(),
        &[("first".into(), 0xffff_ffff), ("second".into(), 0)]
    );
}

#[test]
fn tailcalls_replace_the_activation() {
    // A chain of 100000 tail calls between two stubs runs in constant
    // space: each takes the place of the last.
    let (mut m, env) = machine();
    let cell = m.alloc(16, 8).unwrap();
    let text = format!(
        "entry 0:platform:g8:g8; locals 1; jc i0 = 0, done; i0 = i0 - 1;
         ld l0, [{cell:#x}:pint]; tailcall l0; :done; r = 7:g8; ret;"
    );
    let a = install(&mut m, &env, &text);
    m.write_u64(cell, a).unwrap();
    let got = m
        .call(
            a,
            &HostSig::new(&[G8], Some(G8)),
            &[Value::int(G8, 100_000)],
        )
        .unwrap();
    assert_eq!(got, Some(Value::int(G8, 7)));
}
