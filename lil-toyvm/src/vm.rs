//! The VM: its memory layout, boot, classes, methods, threads, helpers.
//!
//! Rust-side state (class records, fat monitors, the event log) is shared
//! by the host-function closures through one `Rc<RefCell<State>>`; host
//! functions never call back into the machine, so the cell is never
//! borrowed twice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use lil_codegen::m2n::M2nFrame;
use lil_machine::{HostCall, HostSig, Isa, Machine, MachineError, Value};
use lil_stubs::{ClassInfo, ExceptionClasses, Helpers, VmLayout};
use lil_syntax::Type::{self, G4, Pint, Ref};

use crate::mem::{Mem, NativeStack, walk};
use crate::{Host, VmError};

/// The toy VM's own offsets, beyond those in [`VmLayout`] (which uses
/// [`VmLayout::example`]'s).
pub mod layout {
    /// Size of a thread structure.
    pub const THREAD_SIZE: usize = 128;
    /// `g4` in a thread: 1 while the thread runs native code (GC enabled).
    pub const THREAD_GC_ENABLED: i32 = 52;
    /// `g8` in a thread: its id.
    pub const THREAD_ID: i32 = 56;
    /// Size of a class structure.
    pub const CLASS_SIZE: usize = 64;
    /// `g8` in a class: the index of its name in the VM's class list.
    pub const CLASS_ID: i32 = 0;
    /// `g4` in a class: bytes of an instance.
    pub const CLASS_INSTANCE_SIZE: i32 = 40;
    /// `g4` in an array class: bytes of an element.
    pub const CLASS_ELEMENT_SIZE: i32 = 44;
    /// `pint` in a class: its vtable.
    pub const CLASS_VTABLE: i32 = 48;
    /// `pint` in a class: its superclass.
    pub const CLASS_SUPER: i32 = 56;
    /// Size of a method structure.
    pub const METHOD_SIZE: usize = 32;
    /// `pint` in a method: its class.
    pub const METHOD_CLASS: i32 = 0;
    /// `pint` in a method: its current entry point (the compile-me stub,
    /// then the compiled code).
    pub const METHOD_CODE: i32 = 8;
    /// `g8` in a method: how often the JIT compiled it.
    pub const METHOD_COMPILES: i32 = 16;
    /// An inflated lock word: this bit, and the fat monitor's index.
    pub const INFLATED: u64 = 1 << 63;
    /// `initialisation state` values.
    pub const INIT_NONE: u32 = 0;
    /// Being initialised.
    pub const INIT_RUNNING: u32 = 1;
    /// Initialised ([`lil_stubs::ClassLayout::initialized`]).
    pub const INIT_DONE: u32 = 2;
    /// The initialiser threw.
    pub const INIT_FAILED: u32 = 3;
}

use layout::*;

/// What kind of class to define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassKind {
    /// An ordinary class.
    Class,
    /// An interface.
    Interface,
    /// An array class.
    Array {
        /// The element class (for reference arrays) or 0 (primitive arrays).
        element: u64,
        /// Bytes per element.
        element_size: u32,
    },
}

/// A class to define.
#[derive(Clone, Debug)]
pub struct ClassSpec<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its superclass (`None`: `java.lang.Object`'s, or for Object itself).
    pub superclass: Option<u64>,
    /// The interfaces it implements directly.
    pub interfaces: &'a [u64],
    /// Class, interface or array.
    pub kind: ClassKind,
    /// Bytes of an instance, header included (ignored for arrays and interfaces).
    pub instance_size: u32,
    /// Number of vtable method slots.
    pub methods: usize,
}

/// Something the VM's helpers did, with the M2N frames they saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The allocator's slow path ran.
    GcAlloc {
        /// Bytes asked for.
        size: u64,
        /// The vtable.
        vtable: u64,
        /// The object (0 if the heap was exhausted).
        object: u64,
        /// The thread's M2N frames during the call.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// The array allocator's slow path ran.
    GcAllocArray {
        /// Elements.
        length: u64,
        /// The vtable.
        vtable: u64,
        /// The array (0 if too large).
        object: u64,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// `is_subtype` was asked.
    IsSubtype {
        /// The class tested.
        sub: u64,
        /// Against this class.
        sup: u64,
        /// The answer.
        result: bool,
    },
    /// An exception was thrown (by `throw`, a lazy throw or a rethrow).
    Throw {
        /// The exception object.
        exception: u64,
        /// Its class.
        class: u64,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// The monitor-enter slow path ran.
    MonitorEnterSlow {
        /// The object.
        object: u64,
        /// The lock word it found.
        word: u64,
        /// Whether another thread held the lock.
        contended: bool,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// The monitor-exit slow path ran.
    MonitorExitSlow {
        /// The object.
        object: u64,
        /// The lock word it found.
        word: u64,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// A class initialiser ran.
    ClassInit {
        /// The class.
        class: u64,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// The JIT compiled a method.
    Compile {
        /// The method.
        method: u64,
        /// The code it returned (0 on failure).
        code: u64,
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// The thread stopped at a safepoint.
    Safepoint {
        /// M2N frames.
        frames: Vec<(u64, M2nFrame)>,
    },
    /// Native code started (`gc_enable`).
    GcEnable,
    /// Native code returned (`gc_disable`).
    GcDisable,
    /// `pop_m2n` freed a frame's local handles.
    FreeHandles {
        /// The M2N frame.
        frame: u64,
        /// The objects the handles held.
        objects: Vec<u64>,
    },
}

/// How a call into generated code ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It returned this value (`None` for `void`).
    Returned(Option<Value>),
    /// It threw this exception object (the VM caught it at the call).
    Threw {
        /// The exception.
        exception: u64,
        /// Its class.
        class: u64,
    },
}

#[derive(Clone, Debug)]
struct ClassRec {
    name: String,
    superclass: u64,
    interfaces: Vec<u64>,
    kind: ClassKind,
    depth: u32,
    vtable: u64,
    instance_size: u32,
}

#[derive(Clone, Debug)]
struct MethodRec {
    body: u64,
    /// Vtable slots whose entry is the method's code.
    slots: Vec<u64>,
    fail_compile: bool,
}

#[derive(Clone, Copy, Debug)]
struct FatMonitor {
    owner: u64,
    count: u64,
}

struct State {
    layout: VmLayout,
    stack: Option<NativeStack>,
    heap_next: u64,
    heap_end: u64,
    /// The end of the memory reserved for the heap.
    heap_limit: u64,
    tlab_size: u64,
    current: u64,
    classes: HashMap<u64, ClassRec>,
    methods: HashMap<u64, MethodRec>,
    monitors: Vec<FatMonitor>,
    events: Vec<Event>,
    fail_init: Vec<u64>,
    object: u64,
    class_class: u64,
    illegal_monitor_state: u64,
    initializer_error: u64,
    linkage_error: u64,
    /// Thrown when the heap is exhausted (allocated while it was not).
    out_of_memory_error: u64,
}

type Shared = Rc<RefCell<State>>;

/// The VM: a handle on its shared state plus the layout its stubs use.
pub struct ToyVm {
    state: Shared,
    layout: VmLayout,
    next_thread_id: u64,
    main_thread: u64,
}

/// Bytes of heap the VM reserves in the machine.
const HEAP_BYTES: usize = 4 << 20;
/// The default thread-local allocation buffer.
const TLAB_BYTES: u64 = 4096;

impl ToyVm {
    /// Boot the VM on `host`: allocate the heap and the main thread,
    /// register the helpers, define the core classes, generate the VM's own
    /// stubs, and point `ts` at the main thread.
    pub fn boot(host: &mut dyn Host) -> Result<ToyVm, VmError> {
        let isa = host.machine().isa();
        let stack = if isa == Isa::X64 && cfg!(target_arch = "x86_64") {
            NativeStack::of_this_thread()
        } else {
            None
        };
        let heap = host.machine().alloc(HEAP_BYTES, 64)?;
        let mut layout = VmLayout::example();
        layout.helpers = Helpers::default();
        layout.exceptions = ExceptionClasses::default();
        let state = Rc::new(RefCell::new(State {
            layout,
            stack,
            heap_next: heap,
            heap_end: heap + HEAP_BYTES as u64,
            heap_limit: heap + HEAP_BYTES as u64,
            tlab_size: TLAB_BYTES,
            current: 0,
            classes: HashMap::new(),
            methods: HashMap::new(),
            monitors: Vec::new(),
            events: Vec::new(),
            fail_init: Vec::new(),
            object: 0,
            class_class: 0,
            illegal_monitor_state: 0,
            initializer_error: 0,
            linkage_error: 0,
            out_of_memory_error: 0,
        }));
        let mut vm = ToyVm {
            state,
            layout,
            next_thread_id: 1,
            main_thread: 0,
        };
        let (helpers, free_handles) = vm.register_helpers(host.machine())?;
        vm.layout.helpers = helpers;
        {
            let env = host.env_mut();
            env.m2n_list_offset = layout.thread.m2n_list;
            env.m2n_hooks.free_handles = Some(free_handles);
        }
        vm.define_core_classes(host)?;
        vm.main_thread = vm.new_thread(host)?;
        vm.switch_thread(host, vm.main_thread)?;
        vm.generate_shared_stubs(host)?;
        vm.state.borrow_mut().layout = vm.layout;
        Ok(vm)
    }

    /// The layout the standard stubs are generated for (helpers and shared
    /// stubs filled in).
    pub fn layout(&self) -> &VmLayout {
        &self.layout
    }

    /// The main thread's structure.
    pub fn main_thread(&self) -> u64 {
        self.main_thread
    }

    /// The thread `ts` points to.
    pub fn current_thread(&self) -> u64 {
        self.state.borrow().current
    }

    /// A new thread with its own allocation buffer (not made current).
    pub fn new_thread(&mut self, host: &mut dyn Host) -> Result<u64, VmError> {
        let m = host.machine();
        let thread = m.alloc(THREAD_SIZE, 64)?;
        let env = m.alloc(16, 16)?;
        let id = self.next_thread_id;
        self.next_thread_id += 1;
        let t = self.layout.thread;
        let lock_id = id * u64::from(self.layout.lock.recursion_limit);
        let mem = &mut *m;
        mem.store_u64(env, thread)?;
        mem.store_u64(thread + t.lock_id as u64, lock_id)?;
        mem.store_u64(thread + t.jni_env as u64, env)?;
        mem.store_u64(thread + THREAD_ID as u64, id)?;
        self.refill_tlab(mem, thread)?;
        Ok(thread)
    }

    /// Make `thread` the one `ts` points to.
    pub fn switch_thread(&mut self, host: &mut dyn Host, thread: u64) -> Result<(), VmError> {
        host.set_thread(thread)?;
        self.state.borrow_mut().current = thread;
        Ok(())
    }

    /// Call generated code at `addr` on the current thread. An exception
    /// that unwinds out of it is caught here: the thread's M2N list is reset
    /// to what it was and its pending exception is returned and cleared.
    pub fn call(
        &mut self,
        host: &mut dyn Host,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Outcome, VmError> {
        let thread = self.current_thread();
        let t = self.layout.thread;
        let m = host.machine();
        let head = m.load_u64(thread + t.m2n_list as u64)?;
        match m.call(addr, sig, args) {
            Ok(v) => Ok(Outcome::Returned(v)),
            Err(MachineError::Unwound(_)) => {
                let mem = &mut *m;
                mem.store_u64(thread + t.m2n_list as u64, head)?;
                let exception = mem.load_u64(thread + t.pending_exception as u64)?;
                mem.store_u64(thread + t.pending_exception as u64, 0)?;
                if exception == 0 {
                    return Err(VmError::Vm(
                        "generated code unwound without a pending exception".into(),
                    ));
                }
                let class = class_of(mem, &self.layout, exception)?;
                Ok(Outcome::Threw { exception, class })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The events recorded since the last call of this function.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.state.borrow_mut().events)
    }

    // ------------------------------------------------------------ classes

    /// Define a class. Its vtable gets the superclass table, the interface
    /// table (one method table per implemented interface, inherited ones
    /// included) and `methods` zeroed method slots; its class object is
    /// allocated; it starts uninitialised.
    pub fn define_class(
        &mut self,
        host: &mut dyn Host,
        spec: &ClassSpec<'_>,
    ) -> Result<u64, VmError> {
        let m = host.machine();
        let l = self.layout;
        let class = m.alloc(CLASS_SIZE, 64)?;
        let superclass = match spec.kind {
            ClassKind::Interface => 0,
            _ => spec.superclass.unwrap_or(self.state.borrow().object),
        };
        let (depth, mut ancestors, mut interfaces) = {
            let state = self.state.borrow();
            match state.classes.get(&superclass) {
                Some(sup) => {
                    let mut chain = vec![class];
                    let mut at = superclass;
                    while let Some(c) = state.classes.get(&at) {
                        chain.push(at);
                        at = c.superclass;
                    }
                    chain.reverse();
                    (sup.depth + 1, chain, all_interfaces(&state, superclass))
                }
                None => (1, vec![class], Vec::new()),
            }
        };
        if spec.kind == ClassKind::Interface {
            ancestors.clear();
        }
        for &i in spec.interfaces {
            let state = self.state.borrow();
            for j in std::iter::once(i).chain(all_interfaces(&state, i)) {
                if !interfaces.contains(&j) {
                    interfaces.push(j);
                }
            }
        }
        let v = l.vtable;
        let vtable_size = v.methods as usize + 8 * spec.methods;
        let vtable = m.alloc(vtable_size.max(8), 64)?;
        let itable = m.alloc(16 * (interfaces.len() + 1), 16)?;
        let mem = &mut *m;
        for (k, &iface) in interfaces.iter().enumerate() {
            // A method table per (class, interface); its first word names
            // both so tests can tell tables apart.
            let table = mem_alloc(&mut self.state.borrow_mut(), 16)?;
            mem.store_u64(table, iface)?;
            mem.store_u64(table + 8, class)?;
            let entry = itable + (k * v.itable_entry_size as usize) as u64;
            mem.store_u64(entry + v.itable_interface as u64, iface)?;
            mem.store_u64(entry + v.itable_methods as u64, table)?;
        }
        mem.store_u64(vtable + v.class as u64, class)?;
        mem.store_u64(vtable + v.itable as u64, itable)?;
        for (k, &a) in ancestors.iter().enumerate().take(v.max_depth as usize) {
            mem.store_u64(vtable + v.superclasses as u64 + 8 * k as u64, a)?;
        }
        let c = l.class;
        let fast = spec.kind != ClassKind::Interface && depth <= v.max_depth;
        let id = self.state.borrow().classes.len() as u64;
        mem.store_u64(class + CLASS_ID as u64, id)?;
        mem.store_u32(class + c.depth as u64, depth)?;
        mem.store_u32(class + c.fast_instanceof as u64, u32::from(fast))?;
        mem.store_u32(class + c.init_state as u64, INIT_NONE)?;
        mem.store_u64(class + CLASS_VTABLE as u64, vtable)?;
        mem.store_u64(class + CLASS_SUPER as u64, superclass)?;
        mem.store_u32(class + CLASS_INSTANCE_SIZE as u64, spec.instance_size)?;
        if let ClassKind::Array {
            element,
            element_size,
        } = spec.kind
        {
            mem.store_u64(class + c.element_class as u64, element)?;
            mem.store_u32(class + CLASS_ELEMENT_SIZE as u64, element_size)?;
        }
        self.state.borrow_mut().classes.insert(
            class,
            ClassRec {
                name: spec.name.to_string(),
                superclass,
                interfaces,
                kind: spec.kind,
                depth,
                vtable,
                instance_size: spec.instance_size,
            },
        );
        let class_class = self.state.borrow().class_class;
        if class_class != 0 {
            let mirror = self.new_object(host.machine(), class_class)?;
            let mem = host.machine();
            mem.store_u64(class + c.class_object as u64, mirror)?;
        }
        Ok(class)
    }

    /// A subclass of `java.lang.Object` with no methods (a shorthand).
    pub fn define_simple_class(
        &mut self,
        host: &mut dyn Host,
        name: &str,
        superclass: Option<u64>,
        interfaces: &[u64],
    ) -> Result<u64, VmError> {
        self.define_class(
            host,
            &ClassSpec {
                name,
                superclass,
                interfaces,
                kind: ClassKind::Class,
                instance_size: 24,
                methods: 1,
            },
        )
    }

    /// An interface.
    pub fn define_interface(
        &mut self,
        host: &mut dyn Host,
        name: &str,
        extends: &[u64],
    ) -> Result<u64, VmError> {
        self.define_class(
            host,
            &ClassSpec {
                name,
                superclass: None,
                interfaces: extends,
                kind: ClassKind::Interface,
                instance_size: 0,
                methods: 0,
            },
        )
    }

    /// The array class of `element` (0 with `element_size` for a primitive array).
    pub fn define_array_class(
        &mut self,
        host: &mut dyn Host,
        element: u64,
        element_size: u32,
    ) -> Result<u64, VmError> {
        let name = format!("{}[]", self.class_name(element));
        self.define_class(
            host,
            &ClassSpec {
                name: &name,
                superclass: None,
                interfaces: &[],
                kind: ClassKind::Array {
                    element,
                    element_size,
                },
                instance_size: 0,
                methods: 0,
            },
        )
    }

    /// What a per-class generator needs about `class`.
    pub fn class_info(&self, class: u64) -> ClassInfo {
        let state = self.state.borrow();
        let rec = state.classes.get(&class);
        ClassInfo {
            class,
            depth: rec.map_or(0, |r| r.depth),
            is_interface: rec.is_some_and(|r| r.kind == ClassKind::Interface),
            vtable: rec.map_or(0, |r| r.vtable),
            instance_size: rec.map_or(0, |r| r.instance_size),
        }
    }

    /// A class's name (`?` for an unknown address).
    pub fn class_name(&self, class: u64) -> String {
        self.state
            .borrow()
            .classes
            .get(&class)
            .map_or_else(|| "?".into(), |c| c.name.clone())
    }

    /// A class's vtable.
    pub fn vtable_of_class(&self, class: u64) -> u64 {
        self.class_info(class).vtable
    }

    /// Whether `sub` is `sup` or a subtype of it (the VM's own answer).
    pub fn is_subtype(&self, sub: u64, sup: u64) -> bool {
        is_subtype(&self.state.borrow(), sub, sup)
    }

    /// `java.lang.Object`.
    pub fn object_class(&self) -> u64 {
        self.state.borrow().object
    }

    /// `java.lang.IllegalMonitorStateException`.
    pub fn illegal_monitor_state_class(&self) -> u64 {
        self.state.borrow().illegal_monitor_state
    }

    /// `java.lang.ExceptionInInitializerError`.
    pub fn initializer_error_class(&self) -> u64 {
        self.state.borrow().initializer_error
    }

    /// `java.lang.LinkageError` (what a failed compilation throws).
    pub fn linkage_error_class(&self) -> u64 {
        self.state.borrow().linkage_error
    }

    /// The method table the class of `class` has for `interface` (0 if none).
    pub fn itable_methods(
        &self,
        host: &mut dyn Host,
        class: u64,
        interface: u64,
    ) -> Result<u64, VmError> {
        let ifaces = self
            .state
            .borrow()
            .classes
            .get(&class)
            .map(|c| c.interfaces.clone())
            .unwrap_or_default();
        let Some(k) = ifaces.iter().position(|&i| i == interface) else {
            return Ok(0);
        };
        let v = self.layout.vtable;
        let mem = host.machine();
        let itable = mem.load_u64(self.vtable_of_class(class) + v.itable as u64)?;
        Ok(mem.load_u64(
            itable + (k * v.itable_entry_size as usize) as u64 + v.itable_methods as u64,
        )?)
    }

    /// Make the initialiser of `class` throw `ExceptionInInitializerError`.
    pub fn fail_initializer(&mut self, class: u64) {
        self.state.borrow_mut().fail_init.push(class);
    }

    /// A class's initialisation state (`layout::INIT_*`).
    pub fn init_state(&self, host: &mut dyn Host, class: u64) -> Result<u32, VmError> {
        let mem = host.machine();
        Ok(mem.load_u32(class + self.layout.class.init_state as u64)?)
    }

    // ------------------------------------------------------------ objects

    /// Allocate an instance of `class` from the heap (not from a thread's
    /// buffer): for test fixtures and exceptions.
    pub fn new_object(&mut self, m: &mut dyn Machine, class: u64) -> Result<u64, VmError> {
        let mut state = self.state.borrow_mut();
        new_object(&mut state, m, class)
    }

    /// Allocate an array of `class` (an array class) from the heap.
    pub fn new_array(
        &mut self,
        m: &mut dyn Machine,
        class: u64,
        length: u32,
    ) -> Result<u64, VmError> {
        let mut state = self.state.borrow_mut();
        let size = array_size(&state, class, u64::from(length))
            .ok_or_else(|| VmError::Vm("not an array class".into()))?;
        let object = mem_alloc(&mut state, size)?;
        let mem = &mut *m;
        init_header(mem, &state.layout, object, vtable_of(&state, class))?;
        mem.store_u32(object + state.layout.object.array_length as u64, length)?;
        Ok(object)
    }

    /// The class of an object, read through its vtable.
    pub fn class_of(&self, host: &mut dyn Host, object: u64) -> Result<u64, VmError> {
        class_of(host.machine(), &self.layout, object)
    }

    /// Bytes of an instance of `class`, rounded to the object alignment.
    pub fn instance_size(&self, class: u64) -> u64 {
        let size = u64::from(self.class_info(class).instance_size);
        let align = u64::from(self.layout.object.alignment);
        size.div_ceil(align) * align
    }

    /// Give `thread` a fresh allocation buffer of `bytes` (the next one the
    /// allocator hands out has the default size).
    pub fn set_tlab(
        &mut self,
        host: &mut dyn Host,
        thread: u64,
        bytes: u64,
    ) -> Result<(), VmError> {
        let mut state = self.state.borrow_mut();
        let start = mem_alloc(&mut state, bytes)?;
        let t = state.layout.thread;
        let mem = host.machine();
        mem.store_u64(thread + t.tlab_frontier as u64, start)?;
        mem.store_u64(thread + t.tlab_limit as u64, start + bytes)?;
        Ok(())
    }

    /// Bytes of heap left.
    pub fn heap_left(&self) -> u64 {
        let state = self.state.borrow();
        state.heap_end - state.heap_next
    }

    /// Leave only `bytes` of heap to allocate (`None`: all of it again), to
    /// make the allocator fail.
    pub fn limit_heap(&mut self, bytes: Option<u64>) {
        let mut state = self.state.borrow_mut();
        state.heap_end = match bytes {
            Some(bytes) => state.heap_next.saturating_add(bytes).min(state.heap_limit),
            None => state.heap_limit,
        };
    }

    // ------------------------------------------------------------ methods

    /// Define a method of `class` whose compiled code will be `body`. Its
    /// entry point (and vtable slot `slot`, if given) starts as a
    /// compile-me stub generated for it; the first call compiles it.
    pub fn define_method(
        &mut self,
        host: &mut dyn Host,
        class: u64,
        slot: Option<usize>,
        body: u64,
        fail_compile: bool,
    ) -> Result<u64, VmError> {
        let method = host.machine().alloc(METHOD_SIZE, 16)?;
        let stub = lil_stubs::compile_me::compile_me(&self.layout, method)?;
        let code = host.compile(&stub)?;
        let mut slots = Vec::new();
        let mem = host.machine();
        mem.store_u64(method + METHOD_CLASS as u64, class)?;
        mem.store_u64(method + METHOD_CODE as u64, code)?;
        if let Some(k) = slot {
            let at = self.vtable_of_class(class) + self.layout.vtable.methods as u64 + 8 * k as u64;
            mem.store_u64(at, code)?;
            slots.push(at);
        }
        self.state.borrow_mut().methods.insert(
            method,
            MethodRec {
                body,
                slots,
                fail_compile,
            },
        );
        Ok(method)
    }

    /// A method's current entry point.
    pub fn method_code(&self, host: &mut dyn Host, method: u64) -> Result<u64, VmError> {
        let mem = host.machine();
        Ok(mem.load_u64(method + METHOD_CODE as u64)?)
    }

    /// How often the JIT compiled a method.
    pub fn compile_count(&self, host: &mut dyn Host, method: u64) -> Result<u64, VmError> {
        let mem = host.machine();
        Ok(mem.load_u64(method + METHOD_COMPILES as u64)?)
    }

    // ------------------------------------------------------------ monitors

    /// The lock word of an object.
    pub fn lock_word(&self, host: &mut dyn Host, object: u64) -> Result<u64, VmError> {
        let mem = host.machine();
        Ok(mem.load_u64(object + self.layout.object.lock_word as u64)?)
    }

    /// A thread's thin-lock id.
    pub fn lock_id(&self, host: &mut dyn Host, thread: u64) -> Result<u64, VmError> {
        let mem = host.machine();
        Ok(mem.load_u64(thread + self.layout.thread.lock_id as u64)?)
    }

    /// The owner (a thread's lock id) and entry count of an inflated lock.
    pub fn fat_monitor(&self, word: u64) -> Option<(u64, u64)> {
        if word & INFLATED == 0 {
            return None;
        }
        let state = self.state.borrow();
        state
            .monitors
            .get((word & !INFLATED) as usize)
            .map(|m| (m.owner, m.count))
    }

    /// Reads machine memory from inside host functions, the stack
    /// included (for native functions reading their handles, and for
    /// walking M2N frames).
    pub fn host_reader(&self) -> HostReader {
        let state = self.state.borrow();
        HostReader {
            stack: state.stack,
            list_offset: state.layout.thread.m2n_list,
        }
    }

    // ------------------------------------------------------------ boot

    fn define_core_classes(&mut self, host: &mut dyn Host) -> Result<(), VmError> {
        let object = self.define_simple_class(host, "java.lang.Object", None, &[])?;
        self.state.borrow_mut().object = object;
        let class_class = self.define_simple_class(host, "java.lang.Class", None, &[])?;
        self.state.borrow_mut().class_class = class_class;
        // The two classes defined before Class get their mirrors now.
        let mirror_offset = self.layout.class.class_object as u64;
        for class in [object, class_class] {
            let mirror = self.new_object(host.machine(), class_class)?;
            let mem = host.machine();
            mem.store_u64(class + mirror_offset, mirror)?;
        }
        let mut define = |vm: &mut ToyVm, name: &str, sup: u64| -> Result<u64, VmError> {
            vm.define_simple_class(host, name, Some(sup), &[])
        };
        let throwable = define(self, "java.lang.Throwable", object)?;
        let exception = define(self, "java.lang.Exception", throwable)?;
        let runtime = define(self, "java.lang.RuntimeException", exception)?;
        let error = define(self, "java.lang.Error", throwable)?;
        let linkage = define(self, "java.lang.LinkageError", error)?;
        let vm_error = define(self, "java.lang.VirtualMachineError", error)?;
        let index = define(self, "java.lang.IndexOutOfBoundsException", runtime)?;
        let ex = ExceptionClasses {
            null_pointer: define(self, "java.lang.NullPointerException", runtime)?,
            class_cast: define(self, "java.lang.ClassCastException", runtime)?,
            array_store: define(self, "java.lang.ArrayStoreException", runtime)?,
            index_out_of_bounds: define(self, "java.lang.ArrayIndexOutOfBoundsException", index)?,
            negative_array_size: define(self, "java.lang.NegativeArraySizeException", runtime)?,
            out_of_memory: define(self, "java.lang.OutOfMemoryError", vm_error)?,
            incompatible_class_change: define(
                self,
                "java.lang.IncompatibleClassChangeError",
                linkage,
            )?,
        };
        let ims = define(self, "java.lang.IllegalMonitorStateException", runtime)?;
        let eiie = define(self, "java.lang.ExceptionInInitializerError", linkage)?;
        // Core classes are initialised.
        let init = self.layout.class.init_state as u64;
        let all: Vec<u64> = self.state.borrow().classes.keys().copied().collect();
        let mem = host.machine();
        for class in all {
            mem.store_u32(class + init, INIT_DONE)?;
        }
        self.layout.exceptions = ex;
        let mut state = self.state.borrow_mut();
        state.layout.exceptions = ex;
        state.illegal_monitor_state = ims;
        state.initializer_error = eiie;
        state.linkage_error = linkage;
        drop(state);
        let oom = self.new_object(host.machine(), ex.out_of_memory)?;
        self.state.borrow_mut().out_of_memory_error = oom;
        Ok(())
    }

    fn generate_shared_stubs(&mut self, host: &mut dyn Host) -> Result<(), VmError> {
        let stub = lil_stubs::throw::throw_lazy(&self.layout)?;
        self.layout.helpers.throw_lazy_stub = host.compile(&stub)?;
        let stub = lil_stubs::compile_me::compile_me_generic(&self.layout)?;
        self.layout.helpers.compile_me_generic = host.compile(&stub)?;
        let stub = lil_stubs::monitor::monitor_enter(&self.layout)?;
        self.layout.helpers.monitor_enter = host.compile(&stub)?;
        let stub = lil_stubs::monitor::monitor_exit(&self.layout)?;
        self.layout.helpers.monitor_exit = host.compile(&stub)?;
        let stub = lil_stubs::typecheck::aastore(&self.layout)?;
        self.layout.helpers.aastore = host.compile(&stub)?;
        Ok(())
    }

    fn refill_tlab(&mut self, mem: &mut dyn Machine, thread: u64) -> Result<(), VmError> {
        let mut state = self.state.borrow_mut();
        let size = state.tlab_size;
        let start = mem_alloc(&mut state, size)?;
        let t = state.layout.thread;
        mem.store_u64(thread + t.tlab_frontier as u64, start)?;
        mem.store_u64(thread + t.tlab_limit as u64, start + size)?;
        Ok(())
    }

    /// Register every helper as a host function; returns their addresses
    /// and the `free_handles` hook's.
    fn register_helpers(&mut self, m: &mut dyn Machine) -> Result<(Helpers, u64), VmError> {
        let mut h = Helpers::default();
        let s = &self.state;
        h.gc_alloc = helper(m, s, &[G4, Pint], Some(Ref), gc_alloc)?;
        h.gc_alloc_array = helper(m, s, &[G4, Pint], Some(Ref), gc_alloc_array)?;
        h.is_subtype = helper(m, s, &[Pint, Pint], Some(G4), |st, c| {
            let (sub, sup) = (c.arg(0).bits, c.arg(1).bits);
            let result = is_subtype(st, sub, sup);
            st.events.push(Event::IsSubtype { sub, sup, result });
            Some(Value::int(G4, u64::from(result)))
        })?;
        h.throw = helper(m, s, &[Ref], None, |st, c| {
            let mut exception = c.arg(0).bits;
            if exception == 0 {
                let npe = st.layout.exceptions.null_pointer;
                exception = new_object(st, c, npe).ok()?;
            }
            throw(st, c, exception)
        })?;
        h.throw_lazy = helper(m, s, &[Pint], None, |st, c| {
            let exception = new_object(st, c, c.arg(0).bits).ok()?;
            throw(st, c, exception)
        })?;
        h.rethrow = helper(m, s, &[], None, |st, c| {
            let at = st.current + st.layout.thread.pending_exception as u64;
            let exception = c.load_u64(at).ok()?;
            throw(st, c, exception)
        })?;
        h.monitor_enter_slow = helper(m, s, &[Ref], None, monitor_enter_slow)?;
        h.monitor_exit_slow = helper(m, s, &[Ref], None, monitor_exit_slow)?;
        h.class_initialize = helper(m, s, &[Pint], None, class_initialize)?;
        h.jit_compile = helper(m, s, &[Pint], Some(Pint), jit_compile)?;
        h.gc_safepoint = helper(m, s, &[], None, |st, c| {
            let frames = frames(st, c);
            st.events.push(Event::Safepoint { frames });
            let at = st.current + st.layout.thread.safepoint_request as u64;
            c.store_u32(at, 0).ok()?;
            Some(Value::pint(0))
        })?;
        h.gc_enable = helper(m, s, &[], None, |st, c| {
            st.events.push(Event::GcEnable);
            let at = st.current + THREAD_GC_ENABLED as u64;
            c.store_u32(at, 1).ok()?;
            Some(Value::pint(0))
        })?;
        h.gc_disable = helper(m, s, &[], None, |st, c| {
            st.events.push(Event::GcDisable);
            let at = st.current + THREAD_GC_ENABLED as u64;
            c.store_u32(at, 0).ok()?;
            Some(Value::pint(0))
        })?;
        let free_handles = helper(m, s, &[Pint], None, |st, c| {
            let frame = c.arg(0).bits;
            let objects = handles_of(st, c, frame).unwrap_or_default();
            st.events.push(Event::FreeHandles { frame, objects });
            Some(Value::pint(0))
        })?;
        Ok((h, free_handles))
    }
}

/// Reads machine memory, the stack included, from inside a host function.
#[derive(Clone, Copy, Debug)]
pub struct HostReader {
    stack: Option<NativeStack>,
    list_offset: i32,
}

impl HostReader {
    /// The u64 at `addr`, if it is readable.
    pub fn read_u64(&self, c: &mut dyn HostCall, addr: u64) -> Option<u64> {
        c.load_u64(addr)
            .ok()
            .or_else(|| self.stack.and_then(|s| s.read_word(addr)))
    }

    /// The M2N frames of `thread`, most recent first, walked with
    /// [`lil_codegen::m2n::M2nWalker`].
    pub fn m2n_frames(&self, c: &mut dyn HostCall, thread: u64) -> Vec<(u64, M2nFrame)> {
        walk(c, self.stack, thread, self.list_offset)
    }
}

/// Register `f` as a host function that works on the VM's state.
fn helper(
    m: &mut dyn Machine,
    state: &Shared,
    params: &[Type],
    ret: Option<Type>,
    f: impl Fn(&mut State, &mut dyn HostCall) -> Option<Value> + 'static,
) -> Result<u64, VmError> {
    let state = state.clone();
    Ok(m.host_fn(
        HostSig::new(params, ret),
        Box::new(move |c| f(&mut state.borrow_mut(), c)),
    )?)
}

// ---------------------------------------------------------------- helpers

fn frames(st: &State, c: &mut dyn HostCall) -> Vec<(u64, M2nFrame)> {
    walk(c, st.stack, st.current, st.layout.thread.m2n_list)
}

fn gc_alloc(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let (size, vtable) = (c.arg(0).bits, c.arg(1).bits);
    let frames = frames(st, c);
    let object = tlab_alloc(st, c, size).unwrap_or(0);
    st.events.push(Event::GcAlloc {
        size,
        vtable,
        object,
        frames,
    });
    if object == 0 {
        return out_of_memory(st, c);
    }
    init_header(c, &st.layout, object, vtable).ok()?;
    Some(Value::int(Ref, object))
}

fn gc_alloc_array(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let (length, vtable) = (c.arg(0).bits, c.arg(1).bits);
    let frames = frames(st, c);
    let class = c.load_u64(vtable + st.layout.vtable.class as u64).ok()?;
    let object = array_size(st, class, length)
        .filter(|&size| size <= st.layout.object.max_array_bytes)
        .and_then(|size| tlab_alloc(st, c, size))
        .unwrap_or(0);
    st.events.push(Event::GcAllocArray {
        length,
        vtable,
        object,
        frames,
    });
    if object == 0 {
        return out_of_memory(st, c);
    }
    init_header(c, &st.layout, object, vtable).ok()?;
    let at = object + st.layout.object.array_length as u64;
    c.store_u32(at, length as u32).ok()?;
    Some(Value::int(Ref, object))
}

/// Throw the `OutOfMemoryError` allocated at boot.
fn out_of_memory(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let exception = st.out_of_memory_error;
    throw(st, c, exception)
}

/// Allocate from the current thread's buffer, refilling it from the heap
/// (a collection would happen here). 0 when the heap is exhausted.
fn tlab_alloc(st: &mut State, c: &mut dyn HostCall, size: u64) -> Option<u64> {
    let t = st.layout.thread;
    let mem = &mut *c;
    let thread = st.current;
    let frontier = mem.load_u64(thread + t.tlab_frontier as u64).ok()?;
    let limit = mem.load_u64(thread + t.tlab_limit as u64).ok()?;
    if frontier + size <= limit {
        mem.store_u64(thread + t.tlab_frontier as u64, frontier + size)
            .ok()?;
        return Some(frontier);
    }
    let chunk = size.max(st.tlab_size);
    let start = mem_alloc(st, chunk).ok()?;
    mem.store_u64(thread + t.tlab_frontier as u64, start + size)
        .ok()?;
    mem.store_u64(thread + t.tlab_limit as u64, start + chunk)
        .ok()?;
    Some(start)
}

fn throw(st: &mut State, c: &mut dyn HostCall, exception: u64) -> Option<Value> {
    let frames = frames(st, c);
    let class = class_of(c, &st.layout, exception).unwrap_or(0);
    let at = st.current + st.layout.thread.pending_exception as u64;
    c.store_u64(at, exception).ok()?;
    st.events.push(Event::Throw {
        exception,
        class,
        frames,
    });
    None
}

fn monitor_enter_slow(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let object = c.arg(0).bits;
    let frames = frames(st, c);
    let me = thread_lock_id(st, c)?;
    let limit = u64::from(st.layout.lock.recursion_limit);
    let at = object + st.layout.object.lock_word as u64;
    let mem = &mut *c;
    let word = mem.load_u64(at).ok()?;
    let mut contended = false;
    if word & INFLATED != 0 {
        let monitor = st.monitors.get_mut((word & !INFLATED) as usize)?;
        if monitor.owner != me && monitor.owner != 0 {
            // Another thread holds it: the toy scheduler runs that thread
            // until it exits the monitor, then this one takes it.
            contended = true;
            monitor.count = 0;
        }
        if monitor.owner != me {
            monitor.owner = me;
        }
        monitor.count += 1;
    } else if word == 0 {
        mem.store_u64(at, me).ok()?;
    } else if word / limit * limit == me {
        // Our own thin lock with a saturated count: inflate it.
        let index = st.monitors.len() as u64;
        st.monitors.push(FatMonitor {
            owner: me,
            count: word % limit + 2,
        });
        mem.store_u64(at, INFLATED | index).ok()?;
    } else {
        // Held thin by another thread: it runs to its monitor exit (the
        // toy scheduler), and this thread takes the released lock.
        contended = true;
        mem.store_u64(at, me).ok()?;
    }
    st.events.push(Event::MonitorEnterSlow {
        object,
        word,
        contended,
        frames,
    });
    Some(Value::pint(0))
}

fn monitor_exit_slow(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let object = c.arg(0).bits;
    let frames = frames(st, c);
    let me = thread_lock_id(st, c)?;
    let at = object + st.layout.object.lock_word as u64;
    let word = c.load_u64(at).ok()?;
    st.events.push(Event::MonitorExitSlow {
        object,
        word,
        frames,
    });
    let owned = word & INFLATED != 0
        && st
            .monitors
            .get((word & !INFLATED) as usize)
            .is_some_and(|m| m.owner == me && m.count > 0);
    if !owned {
        let ims = st.illegal_monitor_state;
        let exception = new_object(st, c, ims).ok()?;
        return throw(st, c, exception);
    }
    let monitor = st.monitors.get_mut((word & !INFLATED) as usize)?;
    monitor.count -= 1;
    if monitor.count == 0 {
        monitor.owner = 0;
        // Deflate: the next enter is a thin-lock `cas` again.
        c.store_u64(at, 0).ok()?;
    }
    Some(Value::pint(0))
}

fn class_initialize(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let class = c.arg(0).bits;
    let frames = frames(st, c);
    let init = st.layout.class.init_state as u64;
    // Superclasses first.
    let mut chain = vec![class];
    let mut at = st.classes.get(&class)?.superclass;
    while let Some(rec) = st.classes.get(&at) {
        chain.push(at);
        at = rec.superclass;
    }
    for &k in chain.iter().rev() {
        let mem = &mut *c;
        if mem.load_u32(k + init).ok()? == INIT_DONE {
            continue;
        }
        mem.store_u32(k + init, INIT_RUNNING).ok()?;
        st.events.push(Event::ClassInit {
            class: k,
            frames: frames.clone(),
        });
        if st.fail_init.contains(&k) {
            c.store_u32(k + init, INIT_FAILED).ok()?;
            let eiie = st.initializer_error;
            let exception = new_object(st, c, eiie).ok()?;
            let pending = st.current + st.layout.thread.pending_exception as u64;
            c.store_u64(pending, exception).ok()?;
            return Some(Value::pint(0));
        }
        c.store_u32(k + init, INIT_DONE).ok()?;
    }
    Some(Value::pint(0))
}

fn jit_compile(st: &mut State, c: &mut dyn HostCall) -> Option<Value> {
    let method = c.arg(0).bits;
    let frames = frames(st, c);
    let rec = st.methods.get(&method)?.clone();
    let mem = &mut *c;
    let count = mem.load_u64(method + METHOD_COMPILES as u64).ok()?;
    mem.store_u64(method + METHOD_COMPILES as u64, count + 1)
        .ok()?;
    let code = if rec.fail_compile {
        let linkage = st.linkage_error;
        let exception = new_object(st, c, linkage).ok()?;
        let pending = st.current + st.layout.thread.pending_exception as u64;
        c.store_u64(pending, exception).ok()?;
        0
    } else {
        // "Compiling" publishes the method's code: its entry point and
        // every vtable slot stop going through the compile-me stub.
        mem.store_u64(method + METHOD_CODE as u64, rec.body).ok()?;
        for slot in &rec.slots {
            mem.store_u64(*slot, rec.body).ok()?;
        }
        rec.body
    };
    st.events.push(Event::Compile {
        method,
        code,
        frames,
    });
    Some(Value::pint(code))
}

/// The objects a frame's handle block holds.
fn handles_of(st: &State, c: &mut dyn HostCall, frame: u64) -> Option<Vec<u64>> {
    let h = st.layout.handles;
    let frames = frames(st, c);
    let (_, f) = frames.iter().find(|(at, _)| *at == frame)?;
    let block = f.local_handles;
    let read = |c: &mut dyn HostCall, addr: u64| -> Option<u64> {
        match c.load_u64(addr) {
            Ok(v) => Some(v),
            Err(_) => st.stack.and_then(|s| s.read_word(addr)),
        }
    };
    let count = read(c, block + h.count as u64)? & 0xFFFF_FFFF;
    (0..count.min(64))
        .map(|k| read(c, block + h.refs as u64 + 8 * k))
        .collect()
}

fn thread_lock_id(st: &State, c: &mut dyn HostCall) -> Option<u64> {
    c.load_u64(st.current + st.layout.thread.lock_id as u64)
        .ok()
}

// ---------------------------------------------------------------- state

fn mem_alloc(st: &mut State, size: u64) -> Result<u64, VmError> {
    let align = u64::from(st.layout.object.alignment).max(8);
    let start = st.heap_next.next_multiple_of(align);
    let end = start
        .checked_add(size)
        .filter(|&end| end <= st.heap_end)
        .ok_or_else(|| VmError::Vm("the heap is exhausted".into()))?;
    st.heap_next = end;
    Ok(start)
}

fn new_object<M: Mem + ?Sized>(st: &mut State, mem: &mut M, class: u64) -> Result<u64, VmError> {
    let rec = st
        .classes
        .get(&class)
        .ok_or_else(|| VmError::Vm(format!("no class at {class:#x}")))?;
    let (size, vtable) = (u64::from(rec.instance_size).max(16), rec.vtable);
    let object = mem_alloc(st, size)?;
    init_header(mem, &st.layout, object, vtable)?;
    Ok(object)
}

fn init_header<M: Mem + ?Sized>(
    mem: &mut M,
    l: &VmLayout,
    object: u64,
    vtable: u64,
) -> Result<(), MachineError> {
    mem.store_u64(object + l.object.vtable as u64, vtable)?;
    mem.store_u64(object + l.object.lock_word as u64, 0)
}

fn array_size(st: &State, class: u64, length: u64) -> Option<u64> {
    let ClassKind::Array { element_size, .. } = st.classes.get(&class)?.kind else {
        return None;
    };
    let align = u64::from(st.layout.object.alignment);
    let bytes = (st.layout.object.array_data as u64)
        .checked_add(length.checked_mul(u64::from(element_size))?)?;
    Some(bytes.div_ceil(align) * align)
}

fn vtable_of(st: &State, class: u64) -> u64 {
    st.classes.get(&class).map_or(0, |c| c.vtable)
}

fn class_of<M: Mem + ?Sized>(mem: &mut M, l: &VmLayout, object: u64) -> Result<u64, VmError> {
    let vtable = mem.load_u64(object + l.object.vtable as u64)?;
    Ok(mem.load_u64(vtable + l.vtable.class as u64)?)
}

fn all_interfaces(st: &State, class: u64) -> Vec<u64> {
    st.classes
        .get(&class)
        .map(|c| c.interfaces.clone())
        .unwrap_or_default()
}

fn is_subtype(st: &State, sub: u64, sup: u64) -> bool {
    if sub == sup || sup == st.object {
        return true;
    }
    let Some(rec) = st.classes.get(&sub) else {
        return false;
    };
    if rec.interfaces.contains(&sup) {
        return true;
    }
    if let (ClassKind::Array { element: a, .. }, Some(ClassKind::Array { element: b, .. })) =
        (rec.kind, st.classes.get(&sup).map(|c| c.kind))
    {
        return a != 0 && b != 0 && is_subtype(st, a, b);
    }
    rec.superclass != 0 && is_subtype(st, rec.superclass, sup)
}
