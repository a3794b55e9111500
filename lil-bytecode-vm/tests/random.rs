//! Random structured programs (expressions, assignments, conditionals,
//! bounded loops, calls, prints) give the same result and output on the
//! LIL VM as on the reference interpreter, on both targets.

mod common;

use common::{arm64_vm, assert_agrees};
use lil_bytecode_vm::{Assembler, Func, LilVm, Program};
use lil_machine::Machine;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;

/// User locals of the main program; loop counters come after them.
const VARS: u32 = 4;
/// Deepest loop nesting.
const MAX_LOOPS: u32 = 3;

#[derive(Clone, Debug)]
enum Expr {
    Const(i32),
    Var(u32),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Lt(Box<Expr>, Box<Expr>),
    /// Call helper `0` or `1` with two arguments.
    Call(u8, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug)]
enum Stmt {
    Print(Expr),
    Assign(u32, Expr),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    Loop(i32, Vec<Stmt>),
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (-1000i32..1000).prop_map(Expr::Const),
        any::<i32>().prop_map(Expr::Const),
        (0..VARS).prop_map(Expr::Var),
    ];
    leaf.prop_recursive(3, 16, 2, |e| {
        prop_oneof![
            (e.clone(), e.clone()).prop_map(|(a, b)| Expr::Add(a.into(), b.into())),
            (e.clone(), e.clone()).prop_map(|(a, b)| Expr::Sub(a.into(), b.into())),
            (e.clone(), e.clone()).prop_map(|(a, b)| Expr::Mul(a.into(), b.into())),
            (e.clone(), e.clone()).prop_map(|(a, b)| Expr::Lt(a.into(), b.into())),
            (0u8..2, e.clone(), e).prop_map(|(f, a, b)| Expr::Call(f, a.into(), b.into())),
        ]
    })
}

fn stmts() -> impl Strategy<Value = Vec<Stmt>> {
    let simple = prop_oneof![
        expr().prop_map(Stmt::Print),
        (0..VARS, expr()).prop_map(|(v, e)| Stmt::Assign(v, e)),
    ];
    let stmt = simple.prop_recursive(MAX_LOOPS, 24, 4, |s| {
        let block = prop::collection::vec(s, 0..4);
        prop_oneof![
            (expr(), block.clone(), block.clone()).prop_map(|(c, t, e)| Stmt::If(c, t, e)),
            (0i32..4, block).prop_map(|(n, b)| Stmt::Loop(n, b)),
        ]
    });
    prop::collection::vec(stmt, 1..8)
}

struct Compiler<'a> {
    a: &'a mut Assembler,
    helpers: [Func; 2],
}

impl Compiler<'_> {
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Const(v) => {
                self.a.push(*v);
            }
            Expr::Var(v) => {
                self.a.load(*v);
            }
            Expr::Add(x, y) | Expr::Sub(x, y) | Expr::Mul(x, y) | Expr::Lt(x, y) => {
                self.expr(x);
                self.expr(y);
                match e {
                    Expr::Add(..) => self.a.add(),
                    Expr::Sub(..) => self.a.sub(),
                    Expr::Mul(..) => self.a.mul(),
                    _ => self.a.lt(),
                };
            }
            Expr::Call(f, x, y) => {
                self.expr(x);
                self.expr(y);
                self.a.call(self.helpers[usize::from(*f)]);
            }
        }
    }

    fn block(&mut self, stmts: &[Stmt], depth: u32) {
        for s in stmts {
            match s {
                Stmt::Print(e) => {
                    self.expr(e);
                    self.a.print();
                }
                Stmt::Assign(v, e) => {
                    self.expr(e);
                    self.a.store(*v);
                }
                Stmt::If(c, then, otherwise) => {
                    let (other, end) = (self.a.label(), self.a.label());
                    self.expr(c);
                    self.a.jz(other);
                    self.block(then, depth);
                    self.a.jmp(end);
                    self.a.bind(other);
                    self.block(otherwise, depth);
                    self.a.bind(end);
                }
                Stmt::Loop(n, body) => {
                    let counter = VARS + depth;
                    let (top, end) = (self.a.label(), self.a.label());
                    self.a.push(*n).store(counter);
                    self.a.bind(top);
                    self.a.load(counter).jz(end);
                    self.block(body, depth + 1);
                    self.a.load(counter).push(1).sub().store(counter);
                    self.a.jmp(top);
                    self.a.bind(end);
                }
            }
        }
    }
}

fn compile(body: &[Stmt]) -> Program {
    let mut a = Assembler::new();
    let helpers = [a.function(2), a.function(2)];
    a.locals(VARS + MAX_LOOPS + 1);
    Compiler { a: &mut a, helpers }.block(body, 0);
    a.load(0).halt();

    // f0(x, y) = x * y - x
    a.begin(helpers[0]);
    a.load(0).load(1).mul().load(0).sub().ret();
    // f1(x, y) = x < 1 ? y : f1(x - 1, y + x): recursion as deep as x
    // (a stack overflow for large x, which both must report).
    a.begin(helpers[1]);
    let recurse = a.label();
    a.load(0).push(1).lt().jz(recurse);
    a.load(1).ret();
    a.bind(recurse);
    a.load(0)
        .push(1)
        .sub()
        .load(1)
        .load(0)
        .add()
        .call(helpers[1])
        .ret();
    match a.finish() {
        Ok(p) => p,
        Err(e) => panic!("the generator built an invalid program: {e}\n{body:#?}"),
    }
}

fn check_random_programs<M: Machine>(vm: &mut LilVm<M>, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let vm = RefCell::new(vm);
    let result = runner.run(&stmts(), |body| {
        let program = compile(&body);
        assert_agrees(&mut **vm.borrow_mut(), "random program", &program);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_programs_agree_on_arm64() {
    check_random_programs(&mut arm64_vm(), 96);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn random_programs_agree_on_x64() {
    check_random_programs(&mut common::x64_vm(), 256);
}

#[test]
fn the_generator_makes_programs_that_print_loop_and_call() {
    // The property above is only as good as the programs: make sure they
    // exercise calls, loops and output.
    let mut runner = TestRunner::deterministic();
    let (mut printed, mut called, mut looped) = (0, 0, 0);
    for _ in 0..64 {
        let body = stmts()
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"))
            .current();
        let program = compile(&body);
        let ops: Vec<_> = lil_bytecode_vm::bytecode::decode_all(program.code())
            .unwrap_or_default()
            .into_iter()
            .take_while(|i| i.op != lil_bytecode_vm::Opcode::Halt)
            .map(|i| i.op)
            .collect();
        printed += usize::from(ops.contains(&lil_bytecode_vm::Opcode::Print));
        called += usize::from(ops.contains(&lil_bytecode_vm::Opcode::Call));
        looped += usize::from(ops.contains(&lil_bytecode_vm::Opcode::Jmp));
    }
    assert!(
        printed > 16 && called > 16 && looped > 16,
        "{printed} {called} {looped}"
    );
}
