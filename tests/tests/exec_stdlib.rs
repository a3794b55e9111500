//! The standard stub library (`lil-stubs`) against the toy VM
//! (`lil-toyvm`), on every machine: each stub's scenario generates it for
//! the VM, runs its fast and slow paths, and checks results and memory
//! effects (objects and frontiers, stored array elements, lock words,
//! initialisation states, what every VM helper was given and which M2N
//! frames the stack walker found while it ran).

use lil_check::CheckedStub;
use lil_codegen::HostEnv;
use lil_codegen::m2n::frame_type;
use lil_machine::{HostSig, Machine, Value};
use lil_syntax::Type::{G4, Pint, Ref};
use lil_tests::exec::{Expect, Runner};
use lil_tests::exec_test;
use lil_toyvm::{Event, Host, Outcome, ToyVm, VmError, scenarios};

/// The execution suite's runner as the toy VM's host.
struct OnRunner<'a>(&'a mut Runner);

impl Host for OnRunner<'_> {
    fn machine(&mut self) -> &mut dyn Machine {
        self.0.machine()
    }
    fn env_mut(&mut self) -> &mut HostEnv {
        self.0.env_mut()
    }
    fn compile(&mut self, stub: &CheckedStub) -> Result<u64, VmError> {
        self.0
            .compile(stub)
            .map_err(|e| VmError::Compile(e.to_string()))
    }
    fn set_thread(&mut self, thread: u64) -> Result<(), VmError> {
        self.0
            .set_thread(thread)
            .map_err(|e| VmError::Compile(e.to_string()))
    }
}

/// Boot a VM on `r` and run the scenario for `name` against it.
fn scenario(r: &mut Runner, name: &str) {
    let target = r.target();
    let run = scenarios::find(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let mut host = OnRunner(r);
    let mut vm = ToyVm::boot(&mut host).or_fail("boot the toy VM");
    if let Err(why) = run(&mut vm, &mut host) {
        panic!("{name} on {target}: {why}");
    }
}

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {$(
        exec_test!(fn $name(r: &mut Runner) {
            scenario(r, stringify!($name));
        });
    )*};
}

scenario_tests!(
    new_object,
    new_object_for_class,
    new_array,
    checkcast,
    instanceof,
    aastore,
    checkcast_for_class,
    instanceof_for_class,
    aastore_for_class,
    jni_wrapper,
    jni_wrapper_synchronized,
    jni_wrapper_narrow_results,
    compile_me,
    compile_me_generic,
    throw,
    throw_lazy,
    throw_class,
    monitor_enter,
    monitor_exit,
    class_init_check,
    interface_vtable,
    safepoint_poll,
);

#[test]
fn every_scenario_has_a_test() {
    let source = include_str!("exec_stdlib.rs");
    for (name, _) in scenarios::ALL {
        assert!(
            source.contains(&format!("    {name},\n")),
            "scenario {name} has no test"
        );
    }
}

exec_test!(
    fn gc_slow_path_is_under_a_walkable_frame_of_the_caller(r: &mut Runner) {
        // The allocator's slow path, seen from the GC: exactly one M2N frame
        // (found by M2nWalker from the thread), recording where the stub
        // returns to, and unlinked after the call.
        let mut host = OnRunner(r);
        let mut vm = ToyVm::boot(&mut host).or_fail("boot");
        let stub = lil_stubs::alloc::new_object(vm.layout()).or_fail("generate");
        let addr = host.compile(&stub).or_fail("compile");
        let class = vm.object_class();
        let thread = vm.current_thread();
        vm.set_tlab(&mut host, thread, 0).or_fail("empty buffer");
        let sig = HostSig::new(&[G4, Pint], Some(Ref));
        let args = [
            Value::int(G4, vm.instance_size(class)),
            Value::pint(vm.vtable_of_class(class)),
        ];
        let out = vm.call(&mut host, addr, &sig, &args).or_fail("call");
        let Outcome::Returned(Some(object)) = out else {
            panic!("{out:?}")
        };
        let events = vm.take_events();
        let [
            Event::GcAlloc {
                frames, object: o, ..
            },
        ] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*o, object.bits);
        assert_eq!(frames.len(), 1, "{frames:x?}");
        let (at, frame) = frames[0];
        assert_eq!(frame.frame_type, frame_type::UNKNOWN);
        assert_eq!(frame.link, thread + vm.layout().thread.m2n_list as u64);
        assert_ne!(frame.return_address, 0);
        assert!(
            !host.0.is_installed_code(frame.return_address),
            "the frame records the stub's caller, not the stub"
        );
        assert!(frame.caller_sp > at);
        if let Some(top) = host.0.entry_stack_top() {
            assert_eq!(frame.caller_sp, top, "caller sp is the caller's");
        }
        assert!(host.0.m2n_frames().is_empty(), "pop_m2n unlinked the frame");
    }
);

exec_test!(
    fn per_class_stubs_for_many_classes_agree_with_the_vm(r: &mut Runner) {
        // Per-class instanceof for every class of a small hierarchy, against
        // every object: the stub's answer is the VM's.
        let mut host = OnRunner(r);
        let mut vm = ToyVm::boot(&mut host).or_fail("boot");
        let object = vm.object_class();
        let i = vm.define_interface(&mut host, "I", &[]).or_fail("I");
        let mut classes = vec![object, i];
        for k in 0..6 {
            let sup = classes[k.min(classes.len() - 1) / 2 * 2];
            let sup = if sup == i { object } else { sup };
            let ifaces: &[u64] = if k % 2 == 1 { &[i] } else { &[] };
            let c = vm
                .define_simple_class(&mut host, &format!("K{k}"), Some(sup), ifaces)
                .or_fail("class");
            classes.push(c);
        }
        let objects: Vec<(u64, u64)> = classes
            .iter()
            .filter(|&&c| c != i)
            .map(|&c| (c, vm.new_object(host.machine(), c).or_fail("object")))
            .collect();
        let sig = HostSig::new(&[Ref], Some(G4));
        for &class in &classes {
            let info = vm.class_info(class);
            let stub =
                lil_stubs::typecheck::instanceof_for_class(vm.layout(), &info).or_fail("generate");
            let addr = host.compile(&stub).or_fail("compile");
            for &(oc, obj) in &objects {
                let out = vm
                    .call(&mut host, addr, &sig, &[Value::int(Ref, obj)])
                    .or_fail("call");
                let Outcome::Returned(Some(v)) = out else {
                    panic!("{out:?}")
                };
                assert_eq!(
                    v.bits & 1 == 1,
                    vm.is_subtype(oc, class),
                    "{} instanceof {}",
                    vm.class_name(oc),
                    vm.class_name(class)
                );
            }
        }
    }
);

exec_test!(
    fn every_scenario_in_turn_on_one_vm(r: &mut Runner) {
        // As `lil demo` runs them: no scenario leaves the VM unusable for
        // the next (heap, threads, locks, pending exceptions, M2N list).
        let target = r.target();
        let mut host = OnRunner(r);
        let mut vm = ToyVm::boot(&mut host).or_fail("boot");
        for (name, run) in scenarios::ALL {
            if let Err(why) = run(&mut vm, &mut host) {
                panic!("{name} on {target}, after the scenarios before it: {why}");
            }
        }
        assert!(host.0.m2n_frames().is_empty());
    }
);
