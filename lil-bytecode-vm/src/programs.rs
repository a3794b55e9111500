//! Sample programs: the two benchmarks and the programs the tests run on
//! every interpreter.

use crate::asm::{Assembler, Program};

/// Assemble a program the assembler must accept (the samples are fixed
/// code; a rejection is a bug in this module).
fn done(a: Assembler) -> Program {
    match a.finish() {
        Ok(p) => p,
        Err(e) => panic!("sample program rejected: {e}"),
    }
}

/// Recursive `fib(n)`: prints it and halts with it.
///
/// ```text
/// fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2)
/// ```
pub fn fib(n: i32) -> Program {
    let mut a = Assembler::new();
    let fib = a.function(1);
    a.push(n).call(fib).dup().print().halt();
    a.begin(fib);
    let recurse = a.label();
    a.load(0).push(2).lt().jz(recurse);
    a.load(0).ret();
    a.bind(recurse);
    a.load(0).push(1).sub().call(fib);
    a.load(0).push(2).sub().call(fib);
    a.add().ret();
    done(a)
}

/// A counting loop: `i = 0; while i < n { i = i + 1 }`; prints `i` and
/// halts with it. Nine instructions per iteration.
pub fn count(n: i32) -> Program {
    let mut a = Assembler::new();
    let (top, end) = (a.label(), a.label());
    a.locals(1);
    a.bind(top);
    a.load(0).push(n).lt().jz(end);
    a.load(0).push(1).add().store(0);
    a.jmp(top);
    a.bind(end);
    a.load(0).dup().print().halt();
    done(a)
}

/// Recursive factorial of every `k` in `1..=n`, printed (wraps past 20!).
pub fn factorials(n: i32) -> Program {
    let mut a = Assembler::new();
    let fact = a.function(1);
    let (top, end) = (a.label(), a.label());
    a.locals(1).push(1).store(0);
    a.bind(top);
    a.load(0).push(n + 1).lt().jz(end); // while k <= n
    a.load(0).call(fact).print();
    a.load(0).push(1).add().store(0);
    a.jmp(top);
    a.bind(end);
    a.load(0).halt();

    a.begin(fact);
    let recurse = a.label();
    a.load(0).push(2).lt().jz(recurse);
    a.push(1).ret();
    a.bind(recurse);
    a.load(0).push(1).sub().call(fact).load(0).mul().ret();
    done(a)
}

/// Ackermann's function `A(m, n)`, printed: deep, irregular recursion with
/// two arguments and a call whose argument is a call.
pub fn ackermann(m: i32, n: i32) -> Program {
    let mut a = Assembler::new();
    let ack = a.function(2);
    a.push(m).push(n).call(ack).dup().print().halt();

    a.begin(ack);
    let (m_zero, m_positive) = (a.label(), a.label());
    // m == 0: n + 1
    a.load(0).jz(m_zero);
    a.jmp(m_positive);
    a.bind(m_zero);
    a.load(1).push(1).add().ret();
    a.bind(m_positive);
    // n == 0: A(m - 1, 1)
    let general = a.label();
    let zero = a.label();
    a.load(1).jz(zero);
    a.jmp(general);
    a.bind(zero);
    a.load(0).push(1).sub().push(1).call(ack).ret();
    // A(m - 1, A(m, n - 1))
    a.bind(general);
    a.load(0).push(1).sub();
    a.load(0).load(1).push(1).sub().call(ack);
    a.call(ack).ret();
    done(a)
}

/// Euclid's algorithm by subtraction, in a function with two arguments it
/// overwrites and one extra local; prints `gcd(x, y)` for a few pairs.
pub fn gcds() -> Program {
    let mut a = Assembler::new();
    let gcd = a.function(2);
    for (x, y) in [(1071, 462), (17, 5), (270, 192), (1, 1), (1 << 20, 6 << 10)] {
        a.push(x).push(y).call(gcd).print();
    }
    a.push(0).halt();

    a.begin(gcd);
    a.locals(1);
    let (top, done_label, b_smaller) = (a.label(), a.label(), a.label());
    a.bind(top);
    // while a != b
    a.load(0).load(1).sub().store(2);
    a.load(2).jz(done_label);
    a.load(2).push(0).lt().jz(b_smaller);
    // a < b: b = b - a
    a.load(1).load(0).sub().store(1).jmp(top);
    a.bind(b_smaller);
    a.load(2).store(0).jmp(top);
    a.bind(done_label);
    a.load(0).ret();
    done(a)
}

/// Nested loops printing `i * j - i` for `i, j < n`, with negative values,
/// and `lt` on negative numbers.
pub fn nested(n: i32) -> Program {
    let mut a = Assembler::new();
    a.locals(2);
    let (outer, outer_end, inner, inner_end) = (a.label(), a.label(), a.label(), a.label());
    a.push(-3).store(0);
    a.bind(outer);
    a.load(0).push(n).lt().jz(outer_end);
    a.push(-2).store(1);
    a.bind(inner);
    a.load(1).push(n).lt().jz(inner_end);
    a.load(0).load(1).mul().load(0).sub().print();
    a.load(1).push(1).add().store(1).jmp(inner);
    a.bind(inner_end);
    a.load(0).push(1).add().store(0).jmp(outer);
    a.bind(outer_end);
    a.load(0).load(1).add().halt();
    done(a)
}

/// Wrapping arithmetic at the edges of 64 bits: repeated squaring,
/// `i32` extremes, and comparisons across the sign.
pub fn wrapping() -> Program {
    let mut a = Assembler::new();
    a.push(i32::MAX).push(i32::MAX).mul().dup().print();
    a.dup().mul().dup().print(); // wraps
    a.dup().mul().print();
    a.push(i32::MIN).push(1).sub().print();
    a.push(i32::MIN).push(i32::MAX).lt().print();
    a.push(i32::MAX).push(i32::MIN).lt().print();
    a.push(-1).push(0).lt().print();
    a.push(0).push(0).lt().print();
    a.push(7).push(99).pop().nop().push(-9).sub().halt();
    done(a)
}

/// Mutual recursion: `even(n)` and `odd(n)` for a few `n`, printed.
pub fn even_odd() -> Program {
    let mut a = Assembler::new();
    let even = a.function(1);
    let odd = a.function(1);
    for n in [0, 1, 10, 77, 200] {
        a.push(n).call(even).print();
    }
    a.push(1).halt();
    for (f, other, at_zero) in [(even, odd, 1), (odd, even, 0)] {
        a.begin(f);
        let zero = a.label();
        a.load(0).jz(zero);
        a.load(0).push(1).sub().call(other).ret();
        a.bind(zero);
        a.push(at_zero).ret();
    }
    done(a)
}

/// Unbounded recursion: must stop with a stack overflow.
pub fn runaway() -> Program {
    let mut a = Assembler::new();
    let f = a.function(1);
    a.push(0).call(f).halt();
    a.begin(f);
    a.load(0).push(1).add().call(f).ret();
    done(a)
}

/// The programs every interpreter must agree on, with their names.
pub fn suite() -> Vec<(&'static str, Program)> {
    vec![
        ("fib(15)", fib(15)),
        ("count(1000)", count(1000)),
        ("count(0)", count(0)),
        ("factorials(25)", factorials(25)),
        ("ackermann(2, 3)", ackermann(2, 3)),
        ("gcds", gcds()),
        ("nested(4)", nested(4)),
        ("wrapping", wrapping()),
        ("even_odd", even_odd()),
        ("runaway", runaway()),
    ]
}
