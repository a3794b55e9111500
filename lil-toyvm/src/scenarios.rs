//! One scenario per standard stub: generate it for the VM, run it against
//! the VM, and check results and memory effects, slow paths included.
//!
//! `lil demo` runs every scenario on each target; the execution tests run
//! each on every machine. A scenario returns the stub it generated and how
//! long the generator took, or a message saying which check failed.

use std::fmt::Display;
use std::time::{Duration, Instant};

use lil_check::CheckedStub;
use lil_codegen::m2n::{M2nFrame, frame_type};
use lil_machine::{HostCall, HostSig, Value};
use lil_stubs::{GenError, jni::NativeMethod};
use lil_syntax::Type::{self, F4, F8, G4, G8, Pint, Ref};
use lil_syntax::{MethodSig, ValueKind};

use crate::{Event, Host, Outcome, ToyVm, layout};

/// What a scenario generated.
pub struct Generated {
    /// The stub the scenario checked.
    pub stub: CheckedStub,
    /// How long its generator took (build + check).
    pub generation: Duration,
}

/// A scenario: boot nothing, use the VM it is given.
pub type Run = fn(&mut ToyVm, &mut dyn Host) -> Result<Generated, String>;

/// Every scenario, by the name of the stub it checks.
pub const ALL: &[(&str, Run)] = &[
    ("new_object", new_object),
    ("new_object_for_class", new_object_for_class),
    ("new_array", new_array),
    ("checkcast", checkcast),
    ("instanceof", instanceof),
    ("aastore", aastore),
    ("checkcast_for_class", checkcast_for_class),
    ("instanceof_for_class", instanceof_for_class),
    ("aastore_for_class", aastore_for_class),
    ("jni_wrapper", jni_wrapper),
    ("jni_wrapper_synchronized", jni_wrapper_synchronized),
    ("jni_wrapper_narrow_results", jni_wrapper_narrow_results),
    ("compile_me", compile_me),
    ("compile_me_generic", compile_me_generic),
    ("throw", throw),
    ("throw_lazy", throw_lazy),
    ("throw_class", throw_class),
    ("monitor_enter", monitor_enter),
    ("monitor_exit", monitor_exit),
    ("class_init_check", class_init_check),
    ("interface_vtable", interface_vtable),
    ("safepoint_poll", safepoint_poll),
];

/// The scenario for `name`.
pub fn find(name: &str) -> Option<Run> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, run)| *run)
}

// ------------------------------------------------------------- plumbing

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($msg)+)));
        }
    };
}

macro_rules! ensure_eq {
    ($got:expr, $want:expr) => {{
        let (got, want) = (&$got, &$want);
        if got != want {
            return Err(format!(
                "line {}: {} is {:x?}, expected {:x?}",
                line!(),
                stringify!($got),
                got,
                want
            ));
        }
    }};
}

trait OrErr<T> {
    fn or_err(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> OrErr<T> for Result<T, E> {
    fn or_err(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn generate(
    f: impl FnOnce() -> Result<CheckedStub, GenError>,
) -> Result<(CheckedStub, Duration), String> {
    let start = Instant::now();
    let stub = f().or_err("generate")?;
    Ok((stub, start.elapsed()))
}

fn sig(params: &[Type], ret: Option<Type>) -> HostSig {
    HostSig::new(params, ret)
}

fn reference(bits: u64) -> Value {
    Value::int(Ref, bits)
}

fn returned(outcome: Outcome) -> Result<Option<Value>, String> {
    match outcome {
        Outcome::Returned(v) => Ok(v),
        Outcome::Threw { class, .. } => Err(format!("threw an exception of class {class:#x}")),
    }
}

fn ref_result(outcome: Outcome) -> Result<u64, String> {
    match returned(outcome)? {
        Some(v) if v.ty == Ref || v.ty == Pint || v.ty == G8 => Ok(v.bits),
        other => Err(format!("returned {other:?}, expected a reference")),
    }
}

fn g4_result(outcome: Outcome) -> Result<u64, String> {
    match returned(outcome)? {
        Some(v) => Ok(v.bits & 0xFFFF_FFFF),
        None => Err("returned nothing".into()),
    }
}

#[track_caller]
fn threw(outcome: Outcome, vm: &ToyVm, class: u64) -> Result<u64, String> {
    match outcome {
        Outcome::Threw {
            exception,
            class: c,
        } if c == class => Ok(exception),
        Outcome::Threw { class: c, .. } => Err(format!(
            "threw {}, expected {}",
            vm.class_name(c),
            vm.class_name(class)
        )),
        Outcome::Returned(v) => Err(format!(
            "returned {v:x?}, expected {} to be thrown",
            vm.class_name(class)
        )),
    }
}

/// The frames of the one M2N frame an event saw, checked: the stub's frame
/// of type `ft` for `method`, linked from the thread, recording a caller.
fn one_frame(
    frames: &[(u64, M2nFrame)],
    thread: u64,
    vm: &ToyVm,
    ft: u64,
    method: u64,
) -> Result<(), String> {
    ensure_eq!(frames.len(), 1);
    let (at, f) = frames[0];
    ensure_eq!(f.frame_type, ft);
    ensure_eq!(f.method, method);
    ensure_eq!(f.link, thread + vm.layout().thread.m2n_list as u64);
    ensure_eq!(f.prev, 0);
    ensure!(f.return_address != 0, "no return address in the M2N frame");
    ensure!(
        f.caller_sp > at,
        "caller sp {:#x} not above the frame at {at:#x}",
        f.caller_sp
    );
    Ok(())
}

fn m2n_head(vm: &ToyVm, host: &mut dyn Host) -> Result<u64, String> {
    let at = vm.current_thread() + vm.layout().thread.m2n_list as u64;
    host.machine().read_u64(at).or_err("M2N head")
}

fn read(host: &mut dyn Host, addr: u64) -> Result<u64, String> {
    host.machine().read_u64(addr).or_err("read")
}

/// Classes for the type-check scenarios: `A`, `B extends A`, `C`,
/// interface `I`, `D extends B implements I`, and `Deep`, ten levels down
/// (deeper than the superclass table).
struct Hierarchy {
    a: u64,
    b: u64,
    c: u64,
    i: u64,
    d: u64,
    deep: u64,
    deep_parent: u64,
    obj_a: u64,
    obj_b: u64,
    obj_c: u64,
    obj_d: u64,
    obj_deep: u64,
}

fn hierarchy(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Hierarchy, String> {
    let a = vm.define_simple_class(host, "A", None, &[]).or_err("A")?;
    let b = vm
        .define_simple_class(host, "B", Some(a), &[])
        .or_err("B")?;
    let c = vm.define_simple_class(host, "C", None, &[]).or_err("C")?;
    let i = vm.define_interface(host, "I", &[]).or_err("I")?;
    let d = vm
        .define_simple_class(host, "D", Some(b), &[i])
        .or_err("D")?;
    let mut deep = vm.object_class();
    let mut deep_parent = deep;
    for level in 2..=10 {
        deep_parent = deep;
        deep = vm
            .define_simple_class(host, &format!("Deep{level}"), Some(deep), &[])
            .or_err("Deep")?;
    }
    let mut new = |class| vm.new_object(host.machine(), class).or_err("new");
    Ok(Hierarchy {
        obj_a: new(a)?,
        obj_b: new(b)?,
        obj_c: new(c)?,
        obj_d: new(d)?,
        obj_deep: new(deep)?,
        a,
        b,
        c,
        i,
        d,
        deep,
        deep_parent,
    })
}

fn subtype_asked(vm: &mut ToyVm) -> usize {
    vm.take_events()
        .iter()
        .filter(|e| matches!(e, Event::IsSubtype { .. }))
        .count()
}

// ------------------------------------------------------------- allocation

fn new_object(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::alloc::new_object(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let class = vm
        .define_simple_class(host, "Point", None, &[])
        .or_err("class")?;
    let (size, vtable) = (vm.instance_size(class), vm.vtable_of_class(class));
    let thread = vm.current_thread();
    let t = vm.layout().thread;
    vm.set_tlab(host, thread, 2 * size).or_err("tlab")?;
    let frontier = read(host, thread + t.tlab_frontier as u64)?;
    let s = sig(&[G4, Pint], Some(Ref));
    let args = [Value::int(G4, size), Value::pint(vtable)];
    vm.take_events();
    // Two fit in the buffer: bump allocation, no helper.
    for k in 0..2 {
        let obj = ref_result(vm.call(host, addr, &s, &args).or_err("call")?)?;
        ensure_eq!(obj, frontier + k * size);
        ensure_eq!(read(host, obj + vm.layout().object.vtable as u64)?, vtable);
        ensure_eq!(
            read(host, thread + t.tlab_frontier as u64)?,
            frontier + (k + 1) * size
        );
    }
    ensure!(vm.take_events().is_empty(), "the fast path called the VM");
    // The third: the GC's slow path under an M2N frame, a new buffer.
    let obj = ref_result(vm.call(host, addr, &s, &args).or_err("call")?)?;
    let events = vm.take_events();
    let [
        Event::GcAlloc {
            size: asked,
            vtable: v,
            object,
            frames,
        },
    ] = &events[..]
    else {
        return Err(format!("expected one GcAlloc, got {events:x?}"));
    };
    ensure_eq!((*asked, *v, *object), (size, vtable, obj));
    one_frame(frames, thread, vm, 0, 0)?;
    ensure_eq!(vm.class_of(host, obj).or_err("class")?, class);
    ensure_eq!(read(host, thread + t.tlab_frontier as u64)?, obj + size);
    ensure_eq!(m2n_head(vm, host)?, 0);
    // No heap left: OutOfMemoryError, thrown under the frame.
    vm.set_tlab(host, thread, 8).or_err("tlab")?;
    vm.limit_heap(Some(0));
    let out = vm.call(host, addr, &s, &args).or_err("call");
    vm.limit_heap(None);
    threw(out?, vm, vm.layout().exceptions.out_of_memory)?;
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

fn new_object_for_class(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let class = vm
        .define_class(
            host,
            &crate::ClassSpec {
                name: "Odd",
                superclass: None,
                interfaces: &[],
                kind: crate::ClassKind::Class,
                instance_size: 36,
                methods: 0,
            },
        )
        .or_err("class")?;
    let info = vm.class_info(class);
    let (stub, generation) =
        generate(|| lil_stubs::alloc::new_object_for_class(vm.layout(), &info))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let size = vm.instance_size(class);
    ensure_eq!(size, 40);
    let thread = vm.current_thread();
    let t = vm.layout().thread;
    vm.set_tlab(host, thread, size).or_err("tlab")?;
    let frontier = read(host, thread + t.tlab_frontier as u64)?;
    let s = sig(&[], Some(Ref));
    vm.take_events();
    let obj = ref_result(vm.call(host, addr, &s, &[]).or_err("call")?)?;
    ensure_eq!(obj, frontier);
    ensure_eq!(vm.class_of(host, obj).or_err("class")?, class);
    ensure_eq!(
        read(host, thread + t.tlab_frontier as u64)?,
        frontier + size
    );
    ensure!(vm.take_events().is_empty(), "the fast path called the VM");
    let obj = ref_result(vm.call(host, addr, &s, &[]).or_err("call")?)?;
    let events = vm.take_events();
    let [
        Event::GcAlloc {
            size: asked,
            vtable,
            object,
            frames,
        },
    ] = &events[..]
    else {
        return Err(format!("expected one GcAlloc, got {events:x?}"));
    };
    ensure_eq!((*asked, *vtable, *object), (size, info.vtable, obj));
    one_frame(frames, thread, vm, 0, 0)?;
    Ok(Generated { stub, generation })
}

fn new_array(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::alloc::new_array(vm.layout(), 4))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let int_array = vm.define_array_class(host, 0, 4).or_err("int[]")?;
    let vtable = vm.vtable_of_class(int_array);
    let o = vm.layout().object;
    let t = vm.layout().thread;
    let thread = vm.current_thread();
    vm.set_tlab(host, thread, 72).or_err("tlab")?;
    let frontier = read(host, thread + t.tlab_frontier as u64)?;
    let s = sig(&[G4, Pint], Some(Ref));
    vm.take_events();
    // 5 ints: 24 + 20 bytes, rounded to 48.
    let arr = ref_result(
        vm.call(host, addr, &s, &[Value::int(G4, 5), Value::pint(vtable)])
            .or_err("call")?,
    )?;
    ensure_eq!(arr, frontier);
    ensure_eq!(read(host, arr + o.vtable as u64)?, vtable);
    ensure_eq!(read(host, arr + o.array_length as u64)? & 0xFFFF_FFFF, 5);
    ensure_eq!(read(host, thread + t.tlab_frontier as u64)?, frontier + 48);
    // Empty: the header only.
    let empty = ref_result(
        vm.call(host, addr, &s, &[Value::int(G4, 0), Value::pint(vtable)])
            .or_err("call")?,
    )?;
    ensure_eq!(empty, frontier + 48);
    ensure_eq!(read(host, thread + t.tlab_frontier as u64)?, frontier + 72);
    ensure!(vm.take_events().is_empty(), "the fast path called the VM");
    // The buffer is full: the slow path.
    let big = ref_result(
        vm.call(host, addr, &s, &[Value::int(G4, 100), Value::pint(vtable)])
            .or_err("call")?,
    )?;
    let events = vm.take_events();
    let [
        Event::GcAllocArray {
            length,
            object,
            frames,
            ..
        },
    ] = &events[..]
    else {
        return Err(format!("expected one GcAllocArray, got {events:x?}"));
    };
    ensure_eq!((*length, *object), (100, big));
    one_frame(frames, thread, vm, 0, 0)?;
    ensure_eq!(read(host, big + o.array_length as u64)? & 0xFFFF_FFFF, 100);
    // A negative length and one beyond the largest array throw before
    // anything is allocated.
    let ex = vm.layout().exceptions;
    let out = vm
        .call(
            host,
            addr,
            &s,
            &[Value::int(G4, u64::from(u32::MAX)), Value::pint(vtable)],
        )
        .or_err("call")?;
    threw(out, vm, ex.negative_array_size)?;
    let out = vm
        .call(
            host,
            addr,
            &s,
            &[Value::int(G4, 0x7FFF_FFFF), Value::pint(vtable)],
        )
        .or_err("call")?;
    threw(out, vm, ex.out_of_memory)?;
    let events = vm.take_events();
    ensure!(
        !events
            .iter()
            .any(|e| matches!(e, Event::GcAllocArray { .. })),
        "the allocator was asked for an impossible array: {events:x?}"
    );
    Ok(Generated { stub, generation })
}

// ------------------------------------------------------------- type checks

fn checkcast(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::typecheck::checkcast(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let h = hierarchy(vm, host)?;
    let cce = vm.layout().exceptions.class_cast;
    let s = sig(&[Ref, Pint], Some(Ref));
    let cast = |vm: &mut ToyVm, host: &mut dyn Host, obj: u64, class: u64| {
        vm.call(host, addr, &s, &[reference(obj), Value::pint(class)])
            .or_err("call")
    };
    vm.take_events();
    ensure_eq!(ref_result(cast(vm, host, 0, h.b)?)?, 0);
    ensure_eq!(ref_result(cast(vm, host, h.obj_b, h.a)?)?, h.obj_b);
    ensure_eq!(ref_result(cast(vm, host, h.obj_d, h.b)?)?, h.obj_d);
    ensure_eq!(ref_result(cast(vm, host, h.obj_a, h.a)?)?, h.obj_a);
    ensure_eq!(subtype_asked(vm), 0);
    threw(cast(vm, host, h.obj_a, h.b)?, vm, cce)?;
    threw(cast(vm, host, h.obj_c, h.a)?, vm, cce)?;
    ensure_eq!(subtype_asked(vm), 0);
    // Interfaces and classes deeper than the table ask the VM.
    ensure_eq!(ref_result(cast(vm, host, h.obj_d, h.i)?)?, h.obj_d);
    threw(cast(vm, host, h.obj_b, h.i)?, vm, cce)?;
    ensure_eq!(
        ref_result(cast(vm, host, h.obj_deep, h.deep_parent)?)?,
        h.obj_deep
    );
    ensure_eq!(ref_result(cast(vm, host, h.obj_deep, h.deep)?)?, h.obj_deep);
    ensure_eq!(subtype_asked(vm), 4);
    let _ = (h.c, h.d);
    Ok(Generated { stub, generation })
}

fn instanceof(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::typecheck::instanceof(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let h = hierarchy(vm, host)?;
    let s = sig(&[Ref, Pint], Some(G4));
    let test = |vm: &mut ToyVm, host: &mut dyn Host, obj: u64, class: u64| {
        vm.call(host, addr, &s, &[reference(obj), Value::pint(class)])
            .or_err("call")
            .and_then(g4_result)
    };
    vm.take_events();
    for (obj, class, want) in [
        (0, h.a, 0),
        (h.obj_b, h.a, 1),
        (h.obj_a, h.b, 0),
        (h.obj_c, h.a, 0),
        (h.obj_d, h.a, 1),
        (h.obj_a, vm.object_class(), 1),
    ] {
        ensure_eq!(
            (obj, class, test(vm, host, obj, class)?),
            (obj, class, want)
        );
    }
    ensure_eq!(subtype_asked(vm), 0);
    ensure_eq!(test(vm, host, h.obj_d, h.i)?, 1);
    ensure_eq!(test(vm, host, h.obj_c, h.i)?, 0);
    ensure_eq!(test(vm, host, h.obj_deep, h.deep)?, 1);
    ensure_eq!(test(vm, host, h.obj_a, h.deep)?, 0);
    ensure_eq!(subtype_asked(vm), 4);
    Ok(Generated { stub, generation })
}

fn aastore(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::typecheck::aastore(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let h = hierarchy(vm, host)?;
    let a_array = vm.define_array_class(host, h.a, 8).or_err("A[]")?;
    let i_array = vm.define_array_class(host, h.i, 8).or_err("I[]")?;
    let arr = vm
        .new_array(host.machine(), a_array, 3)
        .or_err("new A[3]")?;
    let iarr = vm
        .new_array(host.machine(), i_array, 2)
        .or_err("new I[2]")?;
    let data = vm.layout().object.array_data as u64;
    let ex = vm.layout().exceptions;
    let s = sig(&[Ref, G4, Ref], None);
    let store = |vm: &mut ToyVm, host: &mut dyn Host, array: u64, index: i32, value: u64| {
        vm.call(
            host,
            addr,
            &s,
            &[
                reference(array),
                Value::int(G4, index as u32 as u64),
                reference(value),
            ],
        )
        .or_err("call")
    };
    vm.take_events();
    returned(store(vm, host, arr, 1, h.obj_b)?)?;
    returned(store(vm, host, arr, 2, h.obj_d)?)?;
    returned(store(vm, host, arr, 0, h.obj_a)?)?;
    ensure_eq!(subtype_asked(vm), 0);
    threw(store(vm, host, arr, 0, h.obj_c)?, vm, ex.array_store)?;
    threw(
        store(vm, host, arr, 3, h.obj_a)?,
        vm,
        ex.index_out_of_bounds,
    )?;
    threw(
        store(vm, host, arr, -1, h.obj_a)?,
        vm,
        ex.index_out_of_bounds,
    )?;
    threw(store(vm, host, 0, 0, h.obj_a)?, vm, ex.null_pointer)?;
    returned(store(vm, host, arr, 2, 0)?)?;
    let stored = (
        read(host, arr + data)?,
        read(host, arr + data + 8)?,
        read(host, arr + data + 16)?,
    );
    ensure_eq!(stored, (h.obj_a, h.obj_b, 0));
    // An interface element type: the VM decides.
    returned(store(vm, host, iarr, 1, h.obj_d)?)?;
    threw(store(vm, host, iarr, 0, h.obj_b)?, vm, ex.array_store)?;
    ensure_eq!(subtype_asked(vm), 2);
    ensure_eq!(read(host, iarr + data + 8)?, h.obj_d);
    ensure_eq!(read(host, iarr + data)?, 0);
    Ok(Generated { stub, generation })
}

fn checkcast_for_class(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let h = hierarchy(vm, host)?;
    let info = vm.class_info(h.b);
    let (stub, generation) =
        generate(|| lil_stubs::typecheck::checkcast_for_class(vm.layout(), &info))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let cce = vm.layout().exceptions.class_cast;
    let s = sig(&[Ref], Some(Ref));
    vm.take_events();
    let cast = |vm: &mut ToyVm, host: &mut dyn Host, addr: u64, obj: u64| {
        vm.call(host, addr, &s, &[reference(obj)]).or_err("call")
    };
    ensure_eq!(ref_result(cast(vm, host, addr, h.obj_b)?)?, h.obj_b);
    ensure_eq!(ref_result(cast(vm, host, addr, h.obj_d)?)?, h.obj_d);
    ensure_eq!(ref_result(cast(vm, host, addr, 0)?)?, 0);
    threw(cast(vm, host, addr, h.obj_a)?, vm, cce)?;
    threw(cast(vm, host, addr, h.obj_c)?, vm, cce)?;
    ensure_eq!(subtype_asked(vm), 0);
    // Against an interface the stub asks the VM.
    let info = vm.class_info(h.i);
    let layout = *vm.layout();
    let iface = lil_stubs::typecheck::checkcast_for_class(&layout, &info).or_err("generate")?;
    let iaddr = host.compile(&iface).or_err("compile")?;
    let cast = |vm: &mut ToyVm, host: &mut dyn Host, addr: u64, obj: u64| {
        vm.call(host, addr, &s, &[reference(obj)]).or_err("call")
    };
    ensure_eq!(ref_result(cast(vm, host, iaddr, h.obj_d)?)?, h.obj_d);
    threw(cast(vm, host, iaddr, h.obj_b)?, vm, cce)?;
    ensure_eq!(subtype_asked(vm), 2);
    Ok(Generated { stub, generation })
}

fn instanceof_for_class(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let h = hierarchy(vm, host)?;
    let info = vm.class_info(h.b);
    let (stub, generation) =
        generate(|| lil_stubs::typecheck::instanceof_for_class(vm.layout(), &info))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let layout = *vm.layout();
    let iface = lil_stubs::typecheck::instanceof_for_class(&layout, &vm.class_info(h.i))
        .or_err("generate")?;
    let iaddr = host.compile(&iface).or_err("compile")?;
    let s = sig(&[Ref], Some(G4));
    vm.take_events();
    for (stub, obj, want) in [
        (addr, h.obj_b, 1),
        (addr, h.obj_d, 1),
        (addr, h.obj_a, 0),
        (addr, h.obj_c, 0),
        (addr, 0, 0),
    ] {
        let got = g4_result(vm.call(host, stub, &s, &[reference(obj)]).or_err("call")?)?;
        ensure_eq!((obj, got), (obj, want));
    }
    ensure_eq!(subtype_asked(vm), 0);
    for (obj, want) in [(h.obj_d, 1), (h.obj_b, 0), (0, 0)] {
        let got = g4_result(vm.call(host, iaddr, &s, &[reference(obj)]).or_err("call")?)?;
        ensure_eq!((obj, got), (obj, want));
    }
    ensure_eq!(subtype_asked(vm), 2);
    Ok(Generated { stub, generation })
}

fn aastore_for_class(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let h = hierarchy(vm, host)?;
    let info = vm.class_info(h.a);
    let (stub, generation) =
        generate(|| lil_stubs::typecheck::aastore_for_class(vm.layout(), &info))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let a_array = vm.define_array_class(host, h.a, 8).or_err("A[]")?;
    let b_array = vm.define_array_class(host, h.b, 8).or_err("B[]")?;
    let arr = vm.new_array(host.machine(), a_array, 2).or_err("A[2]")?;
    let barr = vm.new_array(host.machine(), b_array, 2).or_err("B[2]")?;
    let data = vm.layout().object.array_data as u64;
    let ex = vm.layout().exceptions;
    let s = sig(&[Ref, G4, Ref], None);
    let store = |vm: &mut ToyVm, host: &mut dyn Host, array: u64, index: i32, value: u64| {
        vm.call(
            host,
            addr,
            &s,
            &[
                reference(array),
                Value::int(G4, index as u32 as u64),
                reference(value),
            ],
        )
        .or_err("call")
    };
    vm.take_events();
    returned(store(vm, host, arr, 0, h.obj_d)?)?;
    returned(store(vm, host, arr, 1, h.obj_a)?)?;
    threw(store(vm, host, arr, 1, h.obj_c)?, vm, ex.array_store)?;
    threw(
        store(vm, host, arr, 2, h.obj_a)?,
        vm,
        ex.index_out_of_bounds,
    )?;
    // A B[] seen as an A[]: the general stub takes over, arguments intact.
    returned(store(vm, host, barr, 1, h.obj_b)?)?;
    threw(store(vm, host, barr, 0, h.obj_a)?, vm, ex.array_store)?;
    threw(store(vm, host, 0, 0, h.obj_a)?, vm, ex.null_pointer)?;
    ensure_eq!(
        (read(host, arr + data)?, read(host, arr + data + 8)?),
        (h.obj_d, h.obj_a)
    );
    ensure_eq!(
        (read(host, barr + data)?, read(host, barr + data + 8)?),
        (0, h.obj_b)
    );
    ensure_eq!(subtype_asked(vm), 0);
    Ok(Generated { stub, generation })
}

// ------------------------------------------------------------- JNI

/// What the native function saw.
#[derive(Clone, Debug, Default, PartialEq)]
struct NativeCall {
    args: Vec<u64>,
    /// What each reference argument's handle held (None: a null handle).
    referents: Vec<Option<u64>>,
    gc_enabled: u32,
    frames: Vec<(u64, M2nFrame)>,
    lock_word: u64,
}

fn jni_wrapper(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    use ValueKind::*;
    // static Object m(int, Object, double, float, long, boolean, byte, char,
    //                 short, Object, double, double, double, double, double,
    //                 double, int, long): more than fits in registers.
    let params = vec![
        Int, Reference, Double, Float, Long, Boolean, Byte, Char, Short, Reference, Double, Double,
        Double, Double, Double, Double, Int, Long,
    ];
    let signature = MethodSig {
        is_static: true,
        params: params.clone(),
        result: Reference,
    };
    let class = vm
        .define_simple_class(host, "Natives", None, &[])
        .or_err("class")?;
    let (jni_params, _) = lil_syntax::MethodDescriptor::jni_signature(&signature);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<NativeCall>::new()));
    let reader = vm.host_reader();
    let (thread, gc_flag) = (vm.current_thread(), layout::THREAD_GC_ENABLED as u64);
    let log = seen.clone();
    let n = jni_params.len();
    let kinds = params.clone();
    let native = host
        .machine()
        .host_fn(
            HostSig::new(&jni_params, Some(Pint)),
            Box::new(move |c: &mut dyn HostCall| {
                let args: Vec<u64> = (0..n).map(|k| c.arg(k).bits).collect();
                let mut referents = vec![reader.read_u64(c, args[1])];
                for (k, kind) in kinds.iter().enumerate() {
                    if *kind == Reference {
                        let h = args[2 + k];
                        referents.push((h != 0).then(|| reader.read_u64(c, h)).flatten());
                    }
                }
                let mut flag = [0u8; 4];
                c.read(thread + gc_flag, &mut flag).ok()?;
                let frames = reader.m2n_frames(c, thread);
                log.borrow_mut().push(NativeCall {
                    args: args.clone(),
                    referents,
                    gc_enabled: u32::from_le_bytes(flag),
                    frames,
                    lock_word: 0,
                });
                // Return the handle of the first reference argument.
                Some(Value::pint(args[3]))
            }),
        )
        .or_err("native")?;
    let method = host
        .machine()
        .alloc(layout::METHOD_SIZE, 16)
        .or_err("method")?;
    let nm = NativeMethod {
        method,
        class,
        function: native,
        signature: &signature,
        synchronized: false,
    };
    let (stub, generation) = generate(|| lil_stubs::jni::jni_wrapper(vm.layout(), &nm))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let (managed, ret) = lil_stubs::jni::wrapper_signature(&signature);
    let arg_obj = vm.new_object(host.machine(), class).or_err("object")?;
    let args: Vec<Value> = managed
        .iter()
        .enumerate()
        .map(|(k, ty)| match ty {
            Ref => reference(if k == 1 { arg_obj } else { 0 }),
            F8 => Value::f8(1.5 + k as f64),
            F4 => Value::f4(-2.25 * k as f32),
            t => Value::int(*t, 0x1111_2222_3333_4444u64.wrapping_mul(k as u64 + 1)),
        })
        .collect();
    vm.take_events();
    let got = ref_result(
        vm.call(host, addr, &sig(&managed, ret), &args)
            .or_err("call")?,
    )?;
    ensure_eq!(got, arg_obj);
    let calls = std::mem::take(&mut *seen.borrow_mut());
    let [call] = &calls[..] else {
        return Err(format!("the native function ran {} times", calls.len()));
    };
    let env = read(host, thread + vm.layout().thread.jni_env as u64)?;
    ensure_eq!(call.args[0], env);
    let mirror = read(host, class + vm.layout().class.class_object as u64)?;
    ensure_eq!(call.referents, vec![Some(mirror), Some(arg_obj), None]);
    ensure_eq!(call.args[2 + 9], 0);
    for (k, ty) in managed.iter().enumerate() {
        if *ty != Ref {
            let want = args[k].normalized().bits;
            let got = Value::int(*ty, call.args[2 + k]).bits;
            let got = if ty.is_float() {
                call.args[2 + k] & want_mask(*ty)
            } else {
                got
            };
            ensure_eq!((k, got), (k, want));
        }
    }
    ensure_eq!(call.gc_enabled, 1);
    one_frame(&call.frames, thread, vm, frame_type::JNI, method)?;
    let handles = call.frames[0].1.local_handles;
    ensure!(handles != 0, "no local handles in the M2N frame");
    let events = vm.take_events();
    ensure_eq!(events.first(), Some(&Event::GcEnable));
    ensure_eq!(events.get(1), Some(&Event::GcDisable));
    let Some(Event::FreeHandles { frame, objects }) = events.get(2) else {
        return Err(format!("pop_m2n freed no handles: {events:x?}"));
    };
    ensure_eq!(*frame, call.frames[0].0);
    ensure_eq!(objects.clone(), vec![mirror, arg_obj, 0]);
    ensure_eq!(read(host, thread + gc_flag)? & 0xFFFF_FFFF, 0);
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

fn want_mask(ty: Type) -> u64 {
    if ty == F4 { 0xFFFF_FFFF } else { u64::MAX }
}

fn jni_wrapper_synchronized(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    use ValueKind::*;
    // synchronized int m(Object o, float f): throws when o is null.
    let signature = MethodSig {
        is_static: false,
        params: vec![Reference, Float],
        result: Int,
    };
    let class = vm
        .define_simple_class(host, "Locked", None, &[])
        .or_err("class")?;
    let this = vm.new_object(host.machine(), class).or_err("this")?;
    let npe = vm.layout().exceptions.null_pointer;
    let npe_object = vm.new_object(host.machine(), npe).or_err("npe")?;
    let thread = vm.current_thread();
    let pending = thread + vm.layout().thread.pending_exception as u64;
    let word_at = this + vm.layout().object.lock_word as u64;
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<NativeCall>::new()));
    let reader = vm.host_reader();
    let log = seen.clone();
    let native = host
        .machine()
        .host_fn(
            HostSig::new(&[Pint, Pint, Pint, F4], Some(G4)),
            Box::new(move |c: &mut dyn HostCall| {
                let args: Vec<u64> = (0..4).map(|k| c.arg(k).bits).collect();
                let lock_word = c.read_u64(word_at).ok()?;
                let this_ref = reader.read_u64(c, args[1]);
                log.borrow_mut().push(NativeCall {
                    args: args.clone(),
                    referents: vec![this_ref],
                    lock_word,
                    ..NativeCall::default()
                });
                if args[2] == 0 {
                    c.write_u64(pending, npe_object).ok()?;
                }
                Some(Value::int(
                    G4,
                    7 + (f32::from_bits(args[3] as u32) as i64 as u64),
                ))
            }),
        )
        .or_err("native")?;
    let method = host
        .machine()
        .alloc(layout::METHOD_SIZE, 16)
        .or_err("method")?;
    let nm = NativeMethod {
        method,
        class,
        function: native,
        signature: &signature,
        synchronized: true,
    };
    let (stub, generation) = generate(|| lil_stubs::jni::jni_wrapper(vm.layout(), &nm))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let s = sig(&[Ref, Ref, F4], Some(G4));
    let lock_id = vm.lock_id(host, thread).or_err("lock id")?;
    let got = g4_result(
        vm.call(
            host,
            addr,
            &s,
            &[reference(this), reference(this), Value::f4(5.0)],
        )
        .or_err("call")?,
    )?;
    ensure_eq!(got, 12);
    let call = seen.borrow_mut().remove(0);
    ensure_eq!(call.lock_word, lock_id);
    ensure_eq!(call.referents, vec![Some(this)]);
    ensure_eq!(vm.lock_word(host, this).or_err("word")?, 0);
    // The native method throws: the monitor is exited, then the exception rethrown.
    let out = vm
        .call(
            host,
            addr,
            &s,
            &[reference(this), reference(0), Value::f4(1.0)],
        )
        .or_err("call")?;
    let exception = threw(out, vm, npe)?;
    ensure_eq!(exception, npe_object);
    ensure_eq!(vm.lock_word(host, this).or_err("word")?, 0);
    let events = vm.take_events();
    let rethrow = events.iter().find_map(|e| match e {
        Event::Throw {
            exception, frames, ..
        } => Some((*exception, frames.clone())),
        _ => None,
    });
    let Some((thrown, frames)) = rethrow else {
        return Err(format!("no rethrow: {events:x?}"));
    };
    ensure_eq!(thrown, npe_object);
    one_frame(&frames, thread, vm, frame_type::JNI, method)?;
    ensure_eq!(m2n_head(vm, host)?, 0);
    static_synchronized(vm, host, class)?;
    Ok(Generated { stub, generation })
}

/// `static synchronized void m()` of `class`: the monitor is the class
/// object's, held while the native method runs.
fn static_synchronized(vm: &mut ToyVm, host: &mut dyn Host, class: u64) -> Result<(), String> {
    let mirror = read(host, class + vm.layout().class.class_object as u64)?;
    let word_at = mirror + vm.layout().object.lock_word as u64;
    let held = std::rc::Rc::new(std::cell::Cell::new(None));
    let seen = held.clone();
    let native = host
        .machine()
        .host_fn(
            HostSig::new(&[Pint, Pint], None),
            Box::new(move |c: &mut dyn HostCall| {
                seen.set(c.read_u64(word_at).ok());
                Some(Value::pint(0))
            }),
        )
        .or_err("native")?;
    let signature = MethodSig {
        is_static: true,
        params: vec![],
        result: ValueKind::Void,
    };
    let nm = NativeMethod {
        method: 0,
        class,
        function: native,
        signature: &signature,
        synchronized: true,
    };
    let stub = lil_stubs::jni::jni_wrapper(vm.layout(), &nm).or_err("generate")?;
    let addr = host.compile(&stub).or_err("compile")?;
    let me = vm.lock_id(host, vm.current_thread()).or_err("lock id")?;
    returned(vm.call(host, addr, &sig(&[], None), &[]).or_err("call")?)?;
    ensure_eq!(held.get(), Some(me));
    ensure_eq!(vm.lock_word(host, mirror).or_err("word")?, 0);
    Ok(())
}

fn jni_wrapper_narrow_results(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    use ValueKind::*;
    let class = vm
        .define_simple_class(host, "Narrow", None, &[])
        .or_err("class")?;
    let this = vm.new_object(host.machine(), class).or_err("this")?;
    let mut last = None;
    // The native function leaves junk above the narrow result; float and
    // double results come back in the floating-point result register. The
    // float and double methods are instance methods, not synchronized: the
    // native function gets `this` as a local handle.
    for (kind, raw, want) in [
        (Boolean, Value::int(G8, 0xDEAD_BEEF_CAFE_0001), 1u64),
        (
            Byte,
            Value::int(G8, 0xDEAD_BEEF_CAFE_00F0),
            0xFFFF_FFFF_FFFF_FFF0,
        ),
        (Char, Value::int(G8, 0xDEAD_BEEF_CAFE_FFF0), 0xFFF0),
        (
            Short,
            Value::int(G8, 0xDEAD_BEEF_CAFE_8001),
            0xFFFF_FFFF_FFFF_8001,
        ),
        (
            Long,
            Value::int(G8, 0x8000_0000_0000_0001),
            0x8000_0000_0000_0001,
        ),
        (Float, Value::f4(-1.5), u64::from((-1.5f32).to_bits())),
        (Double, Value::f8(6.02e23), 6.02e23f64.to_bits()),
    ] {
        let instance = matches!(kind, Float | Double);
        let signature = MethodSig {
            is_static: !instance,
            params: vec![],
            result: kind,
        };
        let reader = vm.host_reader();
        let native = host
            .machine()
            .host_fn(
                HostSig::new(&[Pint, Pint], Some(raw.ty)),
                Box::new(move |c: &mut dyn HostCall| {
                    // Static: the class handle; instance: `this`'s handle.
                    let handle = c.arg(1).bits;
                    let referent = reader.read_u64(c, handle);
                    (!instance || referent == Some(this)).then_some(raw)
                }),
            )
            .or_err("native")?;
        let nm = NativeMethod {
            method: 0,
            class,
            function: native,
            signature: &signature,
            synchronized: false,
        };
        let (stub, generation) = generate(|| lil_stubs::jni::jni_wrapper(vm.layout(), &nm))?;
        let addr = host.compile(&stub).or_err("compile")?;
        let (params, ret) = lil_stubs::jni::wrapper_signature(&signature);
        let args = if instance {
            vec![reference(this)]
        } else {
            vec![]
        };
        let got = returned(
            vm.call(host, addr, &sig(&params, ret), &args)
                .or_err("call")?,
        )?;
        ensure_eq!((kind, got.map(|v| v.bits)), (kind, Some(want)));
        last = Some(Generated { stub, generation });
    }
    last.ok_or_else(|| "no stub".into())
}

// ------------------------------------------------------------- compile-me

/// Arguments of the method the compile-me scenarios compile: 8 integers,
/// 8 doubles, 4 more integers and a reference (stack arguments on both
/// targets).
fn compiled_params() -> (Vec<Type>, Vec<Value>) {
    let mut params = vec![G8; 8];
    params.extend([F8; 8]);
    params.extend([G8; 4]);
    params.push(Ref);
    let args = params
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            F8 => Value::f8(-1.5e300 / (i as f64 + 0.25)),
            _ => Value::int(
                *t,
                0x1111_1111_1111_1111u64.wrapping_mul(i as u64 + 1) ^ 0x8000_0000_0000_0001,
            ),
        })
        .collect();
    (params, args)
}

fn compile_me_with(
    vm: &mut ToyVm,
    host: &mut dyn Host,
    generic: Option<u64>,
) -> Result<Generated, String> {
    let (params, args) = compiled_params();
    let received = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Vec<u64>>::new()));
    let log = received.clone();
    let n = params.len();
    let body = host
        .machine()
        .host_fn(
            HostSig::new(&params, Some(G8)),
            Box::new(move |c: &mut dyn HostCall| {
                log.borrow_mut()
                    .push((0..n).map(|k| c.arg(k).bits).collect());
                Some(Value::int(G8, 0xC0DE))
            }),
        )
        .or_err("body")?;
    let class = vm
        .define_simple_class(host, "Compiled", None, &[])
        .or_err("class")?;
    let method = vm
        .define_method(host, class, Some(0), body, false)
        .or_err("method")?;
    let mut layout = *vm.layout();
    if let Some(generic) = generic {
        layout.helpers.compile_me_generic = generic;
    }
    let (stub, generation) = generate(|| lil_stubs::compile_me::compile_me(&layout, method))?;
    let specific = host.compile(&stub).or_err("compile")?;
    let s = sig(&params, Some(G8));
    let thread = vm.current_thread();
    vm.take_events();
    let got = returned(vm.call(host, specific, &s, &args).or_err("call")?)?;
    ensure_eq!(got, Some(Value::int(G8, 0xC0DE)));
    let events = vm.take_events();
    let [
        Event::Compile {
            method: m,
            code,
            frames,
        },
    ] = &events[..]
    else {
        return Err(format!("expected one compilation, got {events:x?}"));
    };
    ensure_eq!((*m, *code), (method, body));
    one_frame(frames, thread, vm, frame_type::COMPILATION, 0)?;
    // The method's entry point and vtable slot now lead to the code.
    ensure_eq!(vm.method_code(host, method).or_err("code")?, body);
    let slot = vm.vtable_of_class(class) + vm.layout().vtable.methods as u64;
    ensure_eq!(read(host, slot)?, body);
    let direct = read(host, slot)?;
    ensure_eq!(
        returned(vm.call(host, direct, &s, &args).or_err("call")?)?,
        Some(Value::int(G8, 0xC0DE))
    );
    ensure_eq!(vm.compile_count(host, method).or_err("count")?, 1);
    for got in received.borrow().iter() {
        for (k, (g, want)) in got.iter().zip(&args).enumerate() {
            ensure_eq!(
                (k, Value::int(G8, *g).bits & want_mask(params[k]),),
                (k, want.bits & want_mask(params[k]))
            );
        }
    }
    ensure_eq!(received.borrow().len(), 2);
    // A method that fails to compile: the error is rethrown, no code runs.
    let failing = vm
        .define_method(host, class, None, body, true)
        .or_err("method")?;
    let stub2 = lil_stubs::compile_me::compile_me(&layout, failing).or_err("generate")?;
    let addr2 = host.compile(&stub2).or_err("compile")?;
    let out = vm.call(host, addr2, &s, &args).or_err("call")?;
    threw(out, vm, vm.linkage_error_class())?;
    ensure_eq!(received.borrow().len(), 2);
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

fn compile_me(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    compile_me_with(vm, host, None)
}

fn compile_me_generic(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::compile_me::compile_me_generic(vm.layout()))?;
    let generic = host.compile(&stub).or_err("compile")?;
    compile_me_with(vm, host, Some(generic))?;
    Ok(Generated { stub, generation })
}

// ------------------------------------------------------------- throw

fn throw(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::throw::throw(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let cce = vm.layout().exceptions.class_cast;
    let exception = vm.new_object(host.machine(), cce).or_err("exception")?;
    let thread = vm.current_thread();
    let s = sig(&[Ref], None);
    vm.take_events();
    let out = vm
        .call(host, addr, &s, &[reference(exception)])
        .or_err("call")?;
    ensure_eq!(threw(out, vm, cce)?, exception);
    let events = vm.take_events();
    let [
        Event::Throw {
            exception: e,
            frames,
            ..
        },
    ] = &events[..]
    else {
        return Err(format!("expected one throw, got {events:x?}"));
    };
    ensure_eq!(*e, exception);
    one_frame(frames, thread, vm, 0, 0)?;
    ensure_eq!(m2n_head(vm, host)?, 0);
    let out = vm.call(host, addr, &s, &[reference(0)]).or_err("call")?;
    threw(out, vm, vm.layout().exceptions.null_pointer)?;
    Ok(Generated { stub, generation })
}

fn throw_through(vm: &mut ToyVm, host: &mut dyn Host, lazy: u64) -> Result<(), String> {
    let mut layout = *vm.layout();
    layout.helpers.throw_lazy_stub = lazy;
    let ase = layout.exceptions.array_store;
    let stub = lil_stubs::throw::throw_class(&layout, ase).or_err("generate")?;
    let addr = host.compile(&stub).or_err("compile")?;
    let thread = vm.current_thread();
    vm.take_events();
    // Any signature: the stub passes the arguments on untouched.
    let out = vm
        .call(
            host,
            addr,
            &sig(&[G4, F8], Some(G4)),
            &[Value::int(G4, 3), Value::f8(0.5)],
        )
        .or_err("call")?;
    let exception = threw(out, vm, ase)?;
    let events = vm.take_events();
    let [
        Event::Throw {
            exception: e,
            frames,
            ..
        },
    ] = &events[..]
    else {
        return Err(format!("expected one throw, got {events:x?}"));
    };
    ensure_eq!(*e, exception);
    one_frame(frames, thread, vm, 0, 0)?;
    Ok(())
}

fn throw_lazy(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::throw::throw_lazy(vm.layout()))?;
    let lazy = host.compile(&stub).or_err("compile")?;
    throw_through(vm, host, lazy)?;
    Ok(Generated { stub, generation })
}

fn throw_class(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let ase = vm.layout().exceptions.array_store;
    let (stub, generation) = generate(|| lil_stubs::throw::throw_class(vm.layout(), ase))?;
    let lazy = vm.layout().helpers.throw_lazy_stub;
    throw_through(vm, host, lazy)?;
    Ok(Generated { stub, generation })
}

// ------------------------------------------------------------- monitors

fn monitor_enter(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::monitor::monitor_enter(vm.layout()))?;
    let enter = host.compile(&stub).or_err("compile")?;
    let exit = vm.layout().helpers.monitor_exit;
    let object = vm.object_class();
    let obj = vm.new_object(host.machine(), object).or_err("object")?;
    let thread = vm.current_thread();
    let me = vm.lock_id(host, thread).or_err("lock id")?;
    let s = sig(&[Ref], None);
    vm.take_events();
    returned(
        vm.call(host, enter, &s, &[reference(obj)])
            .or_err("enter")?,
    )?;
    ensure_eq!(vm.lock_word(host, obj).or_err("word")?, me);
    returned(
        vm.call(host, enter, &s, &[reference(obj)])
            .or_err("enter")?,
    )?;
    ensure_eq!(vm.lock_word(host, obj).or_err("word")?, me + 1);
    ensure!(vm.take_events().is_empty(), "the fast path called the VM");
    // Contended: another thread holds it thin.
    let other = vm.new_thread(host).or_err("thread")?;
    let theirs = vm.lock_id(host, other).or_err("lock id")?;
    let obj2 = vm.new_object(host.machine(), object).or_err("object")?;
    host.machine()
        .write_u64(obj2 + vm.layout().object.lock_word as u64, theirs)
        .or_err("write")?;
    returned(
        vm.call(host, enter, &s, &[reference(obj2)])
            .or_err("enter")?,
    )?;
    let events = vm.take_events();
    let [
        Event::MonitorEnterSlow {
            object: o,
            word,
            contended: true,
            frames,
        },
    ] = &events[..]
    else {
        return Err(format!("expected a contended slow path, got {events:x?}"));
    };
    ensure_eq!((*o, *word), (obj2, theirs));
    one_frame(frames, thread, vm, 0, 0)?;
    ensure_eq!(vm.lock_word(host, obj2).or_err("word")?, me);
    // A saturated count inflates the lock; exits deflate it.
    let limit = u64::from(vm.layout().lock.recursion_limit);
    host.machine()
        .write_u64(obj2 + vm.layout().object.lock_word as u64, me + limit - 2)
        .or_err("write")?;
    returned(
        vm.call(host, enter, &s, &[reference(obj2)])
            .or_err("enter")?,
    )?;
    ensure_eq!(vm.lock_word(host, obj2).or_err("word")?, me + limit - 1);
    returned(
        vm.call(host, enter, &s, &[reference(obj2)])
            .or_err("enter")?,
    )?;
    let word = vm.lock_word(host, obj2).or_err("word")?;
    ensure_eq!(vm.fat_monitor(word), Some((me, limit + 1)));
    for _ in 0..limit + 1 {
        returned(vm.call(host, exit, &s, &[reference(obj2)]).or_err("exit")?)?;
    }
    ensure_eq!(vm.lock_word(host, obj2).or_err("word")?, 0);
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

fn monitor_exit(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::monitor::monitor_exit(vm.layout()))?;
    let exit = host.compile(&stub).or_err("compile")?;
    let enter = vm.layout().helpers.monitor_enter;
    let object = vm.object_class();
    let obj = vm.new_object(host.machine(), object).or_err("object")?;
    let thread = vm.current_thread();
    let me = vm.lock_id(host, thread).or_err("lock id")?;
    let s = sig(&[Ref], None);
    for _ in 0..3 {
        returned(
            vm.call(host, enter, &s, &[reference(obj)])
                .or_err("enter")?,
        )?;
    }
    vm.take_events();
    for want in [me + 1, me, 0] {
        returned(vm.call(host, exit, &s, &[reference(obj)]).or_err("exit")?)?;
        ensure_eq!(vm.lock_word(host, obj).or_err("word")?, want);
    }
    ensure!(vm.take_events().is_empty(), "the fast path called the VM");
    // Not held: IllegalMonitorStateException from the slow path.
    let out = vm.call(host, exit, &s, &[reference(obj)]).or_err("exit")?;
    threw(out, vm, vm.illegal_monitor_state_class())?;
    let events = vm.take_events();
    let Some(Event::MonitorExitSlow {
        object: o,
        word: 0,
        frames,
    }) = events.first()
    else {
        return Err(format!("expected the exit slow path, got {events:x?}"));
    };
    ensure_eq!(*o, obj);
    one_frame(frames, thread, vm, 0, 0)?;
    // Held by another thread: the same.
    let other = vm.new_thread(host).or_err("thread")?;
    let theirs = vm.lock_id(host, other).or_err("lock id")?;
    host.machine()
        .write_u64(obj + vm.layout().object.lock_word as u64, theirs)
        .or_err("write")?;
    let out = vm.call(host, exit, &s, &[reference(obj)]).or_err("exit")?;
    threw(out, vm, vm.illegal_monitor_state_class())?;
    ensure_eq!(vm.lock_word(host, obj).or_err("word")?, theirs);
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

// ------------------------------------------------------------- the rest

fn class_init_check(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::class_init::class_init_check(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let parent = vm
        .define_simple_class(host, "Parent", None, &[])
        .or_err("class")?;
    let child = vm
        .define_simple_class(host, "Child", Some(parent), &[])
        .or_err("class")?;
    let broken = vm
        .define_simple_class(host, "Broken", None, &[])
        .or_err("class")?;
    vm.fail_initializer(broken);
    let thread = vm.current_thread();
    let s = sig(&[Pint], None);
    vm.take_events();
    returned(
        vm.call(host, addr, &s, &[Value::pint(child)])
            .or_err("call")?,
    )?;
    let events = vm.take_events();
    let [
        Event::ClassInit {
            class: first,
            frames,
        },
        Event::ClassInit { class: second, .. },
    ] = &events[..]
    else {
        return Err(format!("expected two initialisations, got {events:x?}"));
    };
    ensure_eq!((*first, *second), (parent, child));
    one_frame(frames, thread, vm, frame_type::JNI | frame_type::POPABLE, 0)?;
    ensure_eq!(
        vm.init_state(host, child).or_err("state")?,
        layout::INIT_DONE
    );
    ensure_eq!(
        vm.init_state(host, parent).or_err("state")?,
        layout::INIT_DONE
    );
    returned(
        vm.call(host, addr, &s, &[Value::pint(child)])
            .or_err("call")?,
    )?;
    ensure!(
        vm.take_events().is_empty(),
        "an initialised class called the VM"
    );
    let out = vm
        .call(host, addr, &s, &[Value::pint(broken)])
        .or_err("call")?;
    threw(out, vm, vm.initializer_error_class())?;
    ensure_eq!(
        vm.init_state(host, broken).or_err("state")?,
        layout::INIT_FAILED
    );
    ensure_eq!(m2n_head(vm, host)?, 0);
    Ok(Generated { stub, generation })
}

fn interface_vtable(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::interface::interface_vtable(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let i = vm.define_interface(host, "Runnable", &[]).or_err("I")?;
    let j = vm.define_interface(host, "Closeable", &[]).or_err("J")?;
    let k = vm
        .define_interface(host, "AutoCloseable2", &[j])
        .or_err("K")?;
    let a = vm
        .define_simple_class(host, "Task", None, &[i, k])
        .or_err("A")?;
    let b = vm
        .define_simple_class(host, "SubTask", Some(a), &[])
        .or_err("B")?;
    let c = vm
        .define_simple_class(host, "Plain", None, &[])
        .or_err("C")?;
    let s = sig(&[Ref, Pint], Some(Pint));
    let ex = vm.layout().exceptions;
    for (class, iface) in [(a, i), (a, j), (a, k), (b, i), (b, j)] {
        let obj = vm.new_object(host.machine(), class).or_err("object")?;
        let table = vm.itable_methods(host, class, iface).or_err("itable")?;
        ensure!(table != 0, "no table for {class:#x}/{iface:#x}");
        ensure_eq!((read(host, table)?, read(host, table + 8)?), (iface, class));
        let got = ref_result(
            vm.call(host, addr, &s, &[reference(obj), Value::pint(iface)])
                .or_err("call")?,
        )?;
        ensure_eq!((class, iface, got), (class, iface, table));
    }
    let plain = vm.new_object(host.machine(), c).or_err("object")?;
    let out = vm
        .call(host, addr, &s, &[reference(plain), Value::pint(i)])
        .or_err("call")?;
    threw(out, vm, ex.incompatible_class_change)?;
    let out = vm
        .call(host, addr, &s, &[reference(0), Value::pint(i)])
        .or_err("call")?;
    threw(out, vm, ex.null_pointer)?;
    Ok(Generated { stub, generation })
}

fn safepoint_poll(vm: &mut ToyVm, host: &mut dyn Host) -> Result<Generated, String> {
    let (stub, generation) = generate(|| lil_stubs::safepoint::safepoint_poll(vm.layout()))?;
    let addr = host.compile(&stub).or_err("compile")?;
    let thread = vm.current_thread();
    let flag = thread + vm.layout().thread.safepoint_request as u64;
    let s = sig(&[], None);
    vm.take_events();
    returned(vm.call(host, addr, &s, &[]).or_err("call")?)?;
    ensure!(
        vm.take_events().is_empty(),
        "no request, yet the thread stopped"
    );
    host.machine()
        .write(flag, &1u32.to_le_bytes())
        .or_err("request")?;
    returned(vm.call(host, addr, &s, &[]).or_err("call")?)?;
    let events = vm.take_events();
    let [Event::Safepoint { frames }] = &events[..] else {
        return Err(format!("expected one safepoint, got {events:x?}"));
    };
    one_frame(frames, thread, vm, frame_type::SAFE_POINT, 0)?;
    ensure_eq!(
        host.machine().read_u64(flag).or_err("flag")? & 0xFFFF_FFFF,
        0
    );
    returned(vm.call(host, addr, &s, &[]).or_err("call")?)?;
    ensure!(vm.take_events().is_empty(), "the request was not cleared");
    Ok(Generated { stub, generation })
}
