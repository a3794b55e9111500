//! The summary says what the contexts show: the checker notes types and
//! maxima where instructions make them rather than by reading every
//! context back, and must come to the same answer, also where a join
//! right after a write forgets the value written.

use lil_check::CheckedStub;

/// What the summary says, as derived from the contexts of `checked`:
/// (max locals, per-local (general, float), max standard places, bytes
/// allocated, `r` general, `r` float).
type Shown = (u32, Vec<(bool, bool)>, u32, u32, bool, bool);

fn from_contexts(checked: &CheckedStub) -> Shown {
    let summary = checked.summary();
    let mut max_locals = 0;
    let mut uses = vec![(false, false); summary.locals.len()];
    let mut max_std = checked.stub().entry.std_places;
    let mut alloc = 0;
    let (mut ret_general, mut ret_float) = (false, false);
    for sig in &summary.call_signatures {
        if let Some(t) = sig.ret {
            ret_float |= t.is_float();
            ret_general |= !t.is_float();
        }
    }
    for i in 0..checked.stub().body.len() {
        let Some(ctx) = checked.context(i) else {
            continue;
        };
        max_locals = max_locals.max(ctx.num_locals());
        for k in 0..ctx.num_locals() {
            if let Some(t) = ctx.local(k) {
                let u = &mut uses[k as usize];
                u.0 |= !t.is_float();
                u.1 |= t.is_float();
            }
        }
        max_std = max_std.max(ctx.num_std_places());
        alloc = alloc.max(ctx.alloc_bytes());
        if let Some(t) = ctx.ret() {
            ret_float |= t.is_float();
            ret_general |= !t.is_float();
        }
    }
    (max_locals, uses, max_std, alloc, ret_general, ret_float)
}

fn from_summary(checked: &CheckedStub) -> Shown {
    let s = checked.summary();
    (
        s.max_locals,
        s.locals.iter().map(|u| (u.general, u.float)).collect(),
        s.max_std_places,
        s.alloc_bytes,
        s.ret_general,
        s.ret_float,
    )
}

#[test]
fn the_summary_is_what_the_contexts_show() {
    let texts = [
        // A local written right before a label whose join forgets it
        // (one pass; then the general path, for the unreachable code).
        "entry 0:platform:pint:pint; locals 1; jc i0 = 0, a; l0 = 5; :a; r = i0; ret;",
        "entry 0:platform:pint:pint; locals 1; jc i0 = 0, a; l0 = 5; :a; r = i0; ret; r = 1; ret;",
        // The same for `r`, and for the standard places.
        "entry 0:platform:pint,f8:pint; jc i0 = 0, a; r = i1; :a; r = 1; ret;",
        "entry 0:platform:pint,f8:pint; jc i0 = 0, a; r = i1; :a; r = 1; ret; r = 2; ret;",
        "entry 0:platform:pint:pint; jc i0 = 0, a; std_places 2; :a; r = i0; ret;",
        "entry 0:platform:pint:pint; jc i0 = 0, a; std_places 2; :a; r = i0; ret; r = 2; ret;",
        // ... where the join keeps it.
        "entry 0:platform:pint,f8:pint; locals 1; l0 = i1; jc i0 = 0, a; l0 = i1; :a; r = i0; ret;",
        "entry 0:platform:pint:pint; std_places 2; jc i0 = 0, a; std_places 2; :a; r = i0; ret;",
        // Allocation, large frames (the arena), a loop (the fixpoint).
        "entry 0:platform:pint:pint; locals 1; alloc l0, 24; r = l0; ret;",
        "entry 0:platform:pint,f8:pint; locals 10; l9 = i1; jc i0 = 0, a; l8 = i0; :a;
         l1 = i0; r = l1; ret;",
        "entry 0:platform:pint:pint; locals 2; l0 = i0; :top; l1 = l0; l0 = l0 - 1;
         jc l0 != 0, top; r = l1; ret;",
        // A loop whose `locals` comes later in program order.
        "entry 0:platform:pint:pint; j b; :a; l1 = i0; r = l1; ret; :b; locals 3; j a;",
    ];
    for text in texts {
        let checked = lil_check::assert_valid(text);
        assert_eq!(from_summary(&checked), from_contexts(&checked), "{text}");
    }
}
