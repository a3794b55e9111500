//! From the compile-time [`Stub`] to Rust code that builds the same stub.
//!
//! Every node becomes a struct literal with its real span. Every integer
//! field is emitted either as the literal the parser produced or, when a
//! recorded hole stands there, as the local variable holding that hole's
//! checked run-time value. A field is a hole only if all three agree: its
//! value is the hole's sentinel, the hole's span lies inside the node that
//! holds the field, and the hole's use fits the field (see `record`).
//!
//! Address offsets are the one field the parser computes from several
//! terms (`[l0+{a}+8-{b}:pint]`): for them [`plan_offsets`] re-parses with
//! one sentinel raised by one to learn each hole's sign, and the offset is
//! emitted as `literal + a - b`.
//!
//! Invariant: every recorded hole ends up in exactly one field;
//! [`Emitter::finish`] turns a violation into an internal error rather than
//! generating a stub that differs from the text.

use crate::record::{Hole, Recorder, immediate_sentinel};
use lil_syntax::{
    Address, BinaryOp, CallConv, CallKind, Condition, Entry, EntrySignature, Extension, InstKind,
    Instruction, IntUse, LabelRef, Operand, OperandKind, Ordering, Place, Predicate, PrintMessage,
    Signature, Span, Stub, SyntaxError, SyntaxErrorKind, Type, UnaryOp, Var,
};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashMap;

/// What a field needs from the hole that fills it; decides the run-time check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// An operand or a `print` address: an `i128` immediate.
    Immediate,
    /// A term of an address offset: an `i128` immediate.
    Offset,
    /// A variable index.
    Index,
    /// `entry`, `locals` or `std_places` count.
    Count,
    /// An `alloc` size.
    Size,
    /// An address scale, written `l1*{s}` or `{s}*l1`.
    Scale,
}

impl Role {
    fn accepts(self, hole: &Hole) -> bool {
        match self {
            Role::Immediate => hole.usage == IntUse::Immediate,
            Role::Offset => hole.usage == IntUse::Immediate && !hole.starred,
            Role::Index => hole.usage == IntUse::Index,
            Role::Count => hole.usage == IntUse::Count,
            Role::Size => hole.usage == IntUse::Size,
            Role::Scale => {
                hole.usage == IntUse::Size || (hole.usage == IntUse::Immediate && hole.starred)
            }
        }
    }

    /// The `lil_syntax::hole::Holes` method that converts a value for this
    /// role, and the Rust type it returns.
    pub(crate) fn conversion(self) -> (Ident, TokenStream) {
        let (method, ty) = match self {
            Role::Immediate | Role::Offset => ("immediate", quote!(i128)),
            Role::Index => ("index", quote!(u32)),
            Role::Count => ("count", quote!(u32)),
            Role::Size | Role::Scale => ("size", quote!(u32)),
        };
        (format_ident!("{}", method), ty)
    }
}

/// How to rebuild one address offset: `literal ± hole ± hole …`.
#[derive(Clone, Debug)]
pub(crate) struct OffsetPlan {
    literal: i128,
    /// Hole number and whether it is subtracted.
    terms: Vec<(usize, bool)>,
}

fn contains(outer: Span, inner: Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Every address of the stub, in body order.
fn addresses(stub: &Stub) -> Vec<&Address> {
    stub.body
        .iter()
        .filter_map(|inst| match &inst.kind {
            InstKind::Ld { addr, .. }
            | InstKind::St { addr, .. }
            | InstKind::Inc { addr }
            | InstKind::Cas { addr, .. } => Some(addr),
            _ => None,
        })
        .collect()
}

/// For each address whose offset has holes (keyed by the address's start),
/// the literal part and the sign of each hole.
///
/// Each such hole costs one more parse of the text, with that hole's
/// sentinel raised by one: the offset moves by +1 if the hole is added and
/// by -1 if it is subtracted.
pub(crate) fn plan_offsets(
    text: &str,
    positional: usize,
    named: &[String],
    stub: &Stub,
    holes: &[Hole],
) -> Result<HashMap<u32, OffsetPlan>, String> {
    let mut plans = HashMap::new();
    for (position, address) in addresses(stub).into_iter().enumerate() {
        let mut plan = OffsetPlan {
            literal: address.offset,
            terms: Vec::new(),
        };
        for (k, hole) in holes.iter().enumerate() {
            if !(Role::Offset.accepts(hole) && contains(address.span, hole.span)) {
                continue;
            }
            let mut recorder = Recorder::new(text, positional, named, Some(k));
            let moved = lil_syntax::parse_with_directives(text, &mut recorder)
                .ok()
                .and_then(|perturbed| {
                    addresses(&perturbed)
                        .get(position)
                        .and_then(|a| a.offset.checked_sub(address.offset))
                });
            let subtracted = match moved {
                Some(1) => false,
                Some(-1) => true,
                _ => {
                    return Err(format!(
                        "cannot tell how the hole `{}` enters its address",
                        hole.text
                    ));
                }
            };
            let sentinel = immediate_sentinel(k);
            plan.literal = if subtracted {
                plan.literal.checked_add(sentinel)
            } else {
                plan.literal.checked_sub(sentinel)
            }
            .ok_or_else(|| format!("address offset overflow at hole `{}`", hole.text))?;
            plan.terms.push((k, subtracted));
        }
        if !plan.terms.is_empty() {
            plans.insert(address.span.start, plan);
        }
    }
    Ok(plans)
}

/// The local variable holding hole `k`'s checked value in the expansion.
pub(crate) fn hole_variable(k: usize) -> Ident {
    format_ident!("__lil_hole_{}", k, span = proc_macro2::Span::mixed_site())
}

/// Turns one parsed stub into tokens.
pub(crate) struct Emitter<'a> {
    krate: &'a TokenStream,
    text: &'a str,
    holes: &'a [Hole],
    offsets: &'a HashMap<u32, OffsetPlan>,
    roles: Vec<Option<Role>>,
    /// Constructs that parse but are not allowed in the macro (`%g` labels).
    pub errors: Vec<SyntaxError>,
}

impl<'a> Emitter<'a> {
    /// An emitter for a stub parsed from `text` with `holes`, naming types
    /// through `krate`.
    pub(crate) fn new(
        krate: &'a TokenStream,
        text: &'a str,
        holes: &'a [Hole],
        offsets: &'a HashMap<u32, OffsetPlan>,
    ) -> Emitter<'a> {
        Emitter {
            krate,
            text,
            holes,
            offsets,
            roles: vec![None; holes.len()],
            errors: Vec::new(),
        }
    }

    /// The role each hole was placed in, or the first hole that was not placed.
    pub(crate) fn finish(self) -> Result<Vec<Role>, &'a Hole> {
        self.roles
            .iter()
            .zip(self.holes)
            .map(|(role, hole)| role.ok_or(hole))
            .collect()
    }

    /// The hole that fills a field holding `value` inside `within`, if any;
    /// marks it placed.
    fn take_hole(&mut self, value: i128, within: Span, role: Role) -> Option<Ident> {
        let k = self.holes.iter().enumerate().position(|(k, hole)| {
            self.roles[k].is_none()
                && hole.sentinel == value
                && contains(within, hole.span)
                && role.accepts(hole)
        })?;
        self.roles[k] = Some(role);
        Some(hole_variable(k))
    }

    fn unsigned(&mut self, value: u32, within: Span, role: Role) -> TokenStream {
        match self.take_hole(i128::from(value), within, role) {
            Some(variable) => quote!(#variable),
            None => {
                let literal = Literal::u32_unsuffixed(value);
                quote!(#literal)
            }
        }
    }

    fn immediate(&mut self, value: i128, within: Span) -> TokenStream {
        match self.take_hole(value, within, Role::Immediate) {
            Some(variable) => quote!(#variable),
            None => {
                let literal = Literal::i128_suffixed(value);
                quote!(#literal)
            }
        }
    }

    fn span(&self, span: Span) -> TokenStream {
        let krate = self.krate;
        let start = Literal::u32_unsuffixed(span.start);
        let end = Literal::u32_unsuffixed(span.end);
        quote!(#krate::Span::new(#start, #end))
    }

    /// The whole stub.
    pub(crate) fn stub(&mut self, stub: &Stub) -> TokenStream {
        let krate = self.krate;
        let entry = self.entry(&stub.entry);
        let body: Vec<TokenStream> = stub.body.iter().map(|i| self.instruction(i)).collect();
        let labels = stub.labels.iter().map(|name| {
            let name: &str = name;
            quote!(::std::boxed::Box::<str>::from(#name))
        });
        quote! {
            #krate::Stub {
                entry: #entry,
                body: ::std::vec![#(#body),*],
                labels: ::std::vec![#(#labels),*],
            }
        }
    }

    fn entry(&mut self, entry: &Entry) -> TokenStream {
        let krate = self.krate;
        let std_places = self.unsigned(entry.std_places, entry.span, Role::Count);
        let signature = match &entry.signature {
            EntrySignature::Typed(signature) => {
                let signature = self.signature(signature);
                quote!(#krate::EntrySignature::Typed(#signature))
            }
            EntrySignature::Arbitrary { cc, span } => {
                let cc = self.cc(*cc);
                let span = self.span(*span);
                quote!(#krate::EntrySignature::Arbitrary { cc: #cc, span: #span })
            }
        };
        let span = self.span(entry.span);
        quote! {
            #krate::Entry { std_places: #std_places, signature: #signature, span: #span }
        }
    }

    fn signature(&mut self, signature: &Signature) -> TokenStream {
        let krate = self.krate;
        let cc = self.cc(signature.cc);
        let params = signature.params.iter().map(|&t| self.ty(t));
        let ret = self.return_type(signature.ret);
        let span = self.span(signature.span);
        quote! {
            #krate::Signature {
                cc: #cc,
                params: ::std::vec![#(#params),*],
                ret: #ret,
                span: #span,
            }
        }
    }

    fn instruction(&mut self, instruction: &Instruction) -> TokenStream {
        let krate = self.krate;
        let kind = self.kind(&instruction.kind, instruction.span);
        let span = self.span(instruction.span);
        quote!(#krate::Instruction { kind: #kind, span: #span })
    }

    fn kind(&mut self, kind: &InstKind, within: Span) -> TokenStream {
        let krate = self.krate;
        let k = quote!(#krate::InstKind);
        match kind {
            InstKind::Label(label) => {
                let label = self.label(label);
                quote!(#k::Label(#label))
            }
            InstKind::Locals(n) => {
                let n = self.unsigned(*n, within, Role::Count);
                quote!(#k::Locals(#n))
            }
            InstKind::StdPlaces(n) => {
                let n = self.unsigned(*n, within, Role::Count);
                quote!(#k::StdPlaces(#n))
            }
            InstKind::Alloc { dst, size } => {
                let dst = self.place(dst);
                let size = self.unsigned(*size, within, Role::Size);
                quote!(#k::Alloc { dst: #dst, size: #size })
            }
            InstKind::Move { dst, src } => {
                let dst = self.place(dst);
                let src = self.operand(src);
                quote!(#k::Move { dst: #dst, src: #src })
            }
            InstKind::Unary { dst, op, src } => {
                let dst = self.place(dst);
                let op = self.unary_op(*op);
                let src = self.operand(src);
                quote!(#k::Unary { dst: #dst, op: #op, src: #src })
            }
            InstKind::Binary { dst, op, lhs, rhs } => {
                let dst = self.place(dst);
                let op = self.binary_op(*op);
                let lhs = self.operand(lhs);
                let rhs = self.operand(rhs);
                quote!(#k::Binary { dst: #dst, op: #op, lhs: #lhs, rhs: #rhs })
            }
            InstKind::Ts { dst } => {
                let dst = self.place(dst);
                quote!(#k::Ts { dst: #dst })
            }
            InstKind::Handles(src) => {
                let src = self.operand(src);
                quote!(#k::Handles(#src))
            }
            InstKind::Ld { dst, addr, ext } => {
                let dst = self.place(dst);
                let addr = self.address(addr);
                let ext = match ext {
                    Some(ext) => {
                        let ext = self.extension(*ext);
                        quote!(::core::option::Option::Some(#ext))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote!(#k::Ld { dst: #dst, addr: #addr, ext: #ext })
            }
            InstKind::St { addr, src } => {
                let addr = self.address(addr);
                let src = self.operand(src);
                quote!(#k::St { addr: #addr, src: #src })
            }
            InstKind::Inc { addr } => {
                let addr = self.address(addr);
                quote!(#k::Inc { addr: #addr })
            }
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => {
                let addr = self.address(addr);
                let compare = self.operand(compare);
                let source = self.operand(source);
                let on_fail = self.label(on_fail);
                quote! {
                    #k::Cas { addr: #addr, compare: #compare, source: #source, on_fail: #on_fail }
                }
            }
            InstKind::Jump(label) => {
                let label = self.label(label);
                quote!(#k::Jump(#label))
            }
            InstKind::JumpIf { cond, target } => {
                let cond = self.condition(cond);
                let target = self.label(target);
                quote!(#k::JumpIf { cond: #cond, target: #target })
            }
            InstKind::Out(signature) => {
                let signature = self.signature(signature);
                quote!(#k::Out(#signature))
            }
            InstKind::In2Out { cc, ret, sig_span } => {
                let cc = self.cc(*cc);
                let ret = self.return_type(*ret);
                let sig_span = self.span(*sig_span);
                quote!(#k::In2Out { cc: #cc, ret: #ret, sig_span: #sig_span })
            }
            InstKind::Call { kind, target } => {
                let kind = self.call_kind(*kind);
                let target = self.operand(target);
                quote!(#k::Call { kind: #kind, target: #target })
            }
            InstKind::Ret => quote!(#k::Ret),
            InstKind::PushM2n {
                method,
                frame_type,
                handles,
            } => {
                let method = self.optional_operand(method.as_ref());
                let frame_type = self.optional_operand(frame_type.as_ref());
                quote! {
                    #k::PushM2n { method: #method, frame_type: #frame_type, handles: #handles }
                }
            }
            InstKind::M2nSaveAll => quote!(#k::M2nSaveAll),
            InstKind::PopM2n => quote!(#k::PopM2n),
            InstKind::Print { message, operand } => {
                let message = match message {
                    PrintMessage::Text(text) => {
                        let text: &str = text;
                        quote!(#krate::PrintMessage::Text(::std::boxed::Box::<str>::from(#text)))
                    }
                    PrintMessage::Address(address) => {
                        let address = self.immediate(*address, within);
                        quote!(#krate::PrintMessage::Address(#address))
                    }
                };
                let operand = self.optional_operand(operand.as_ref());
                quote!(#k::Print { message: #message, operand: #operand })
            }
        }
    }

    fn var(&mut self, var: Var, within: Span) -> TokenStream {
        let krate = self.krate;
        match var {
            Var::Input(k) => {
                let k = self.unsigned(k, within, Role::Index);
                quote!(#krate::Var::Input(#k))
            }
            Var::Local(k) => {
                let k = self.unsigned(k, within, Role::Index);
                quote!(#krate::Var::Local(#k))
            }
            Var::Output(k) => {
                let k = self.unsigned(k, within, Role::Index);
                quote!(#krate::Var::Output(#k))
            }
            Var::StdPlace(k) => {
                let k = self.unsigned(k, within, Role::Index);
                quote!(#krate::Var::StdPlace(#k))
            }
            Var::Ret => quote!(#krate::Var::Ret),
        }
    }

    fn place(&mut self, place: &Place) -> TokenStream {
        let krate = self.krate;
        let var = self.var(place.var, place.span);
        let span = self.span(place.span);
        quote!(#krate::Place { var: #var, span: #span })
    }

    fn operand(&mut self, operand: &Operand) -> TokenStream {
        let krate = self.krate;
        let kind = match operand.kind {
            OperandKind::Var(var) => {
                let var = self.var(var, operand.span);
                quote!(#krate::OperandKind::Var(#var))
            }
            OperandKind::Imm(value) => {
                let value = self.immediate(value, operand.span);
                quote!(#krate::OperandKind::Imm(#value))
            }
        };
        let cast = self.optional_type(operand.cast);
        let span = self.span(operand.span);
        quote!(#krate::Operand { kind: #kind, cast: #cast, span: #span })
    }

    fn optional_operand(&mut self, operand: Option<&Operand>) -> TokenStream {
        match operand {
            Some(operand) => {
                let operand = self.operand(operand);
                quote!(::core::option::Option::Some(#operand))
            }
            None => quote!(::core::option::Option::None),
        }
    }

    fn address(&mut self, address: &Address) -> TokenStream {
        let krate = self.krate;
        let base = match &address.base {
            Some(base) => {
                let base = self.place(base);
                quote!(::core::option::Option::Some(#base))
            }
            None => quote!(::core::option::Option::None),
        };
        let index = match &address.index {
            Some((place, scale)) => {
                let place = self.place(place);
                let scale = self.unsigned(*scale, address.span, Role::Scale);
                quote!(::core::option::Option::Some((#place, #scale)))
            }
            None => quote!(::core::option::Option::None),
        };
        let offset = self.offset(address);
        let ty = self.ty(address.ty);
        let ordering = self.ordering(address.ordering);
        let span = self.span(address.span);
        quote! {
            #krate::Address {
                base: #base,
                index: #index,
                offset: #offset,
                ty: #ty,
                ordering: #ordering,
                span: #span,
            }
        }
    }

    fn offset(&mut self, address: &Address) -> TokenStream {
        let Some(plan) = self.offsets.get(&address.span.start) else {
            let literal = Literal::i128_suffixed(address.offset);
            return quote!(#literal);
        };
        let mut sum = if plan.literal == 0 {
            TokenStream::new()
        } else {
            let literal = Literal::i128_suffixed(plan.literal);
            quote!(#literal)
        };
        for &(k, subtracted) in &plan.terms {
            self.roles[k] = Some(Role::Offset);
            let variable = hole_variable(k);
            sum = match (sum.is_empty(), subtracted) {
                (true, false) => quote!(#variable),
                (true, true) => quote!(-#variable),
                (false, false) => quote!(#sum + #variable),
                (false, true) => quote!(#sum - #variable),
            };
        }
        sum
    }

    fn condition(&mut self, condition: &Condition) -> TokenStream {
        let krate = self.krate;
        let lhs = self.operand(&condition.lhs);
        let predicate = self.predicate(condition.predicate);
        let rhs = self.operand(&condition.rhs);
        let span = self.span(condition.span);
        quote! {
            #krate::Condition { lhs: #lhs, predicate: #predicate, rhs: #rhs, span: #span }
        }
    }

    fn label(&mut self, label: &LabelRef) -> TokenStream {
        let written = self.text.get(label.span.range()).unwrap_or("");
        if written.starts_with('%') {
            self.errors.push(SyntaxError {
                kind: SyntaxErrorKind::BadDirective {
                    directive: written.to_owned(),
                    reason: "`%` directives belong to the text API; in `lil_parse!` \
                             give the label a name",
                },
                span: label.span,
            });
        }
        let krate = self.krate;
        let id = Literal::u32_unsuffixed(label.id.0);
        let span = self.span(label.span);
        quote!(#krate::LabelRef { id: #krate::LabelId(#id), span: #span })
    }

    fn ty(&self, ty: Type) -> TokenStream {
        let krate = self.krate;
        let variant = match ty {
            Type::G1 => quote!(G1),
            Type::G2 => quote!(G2),
            Type::G4 => quote!(G4),
            Type::G8 => quote!(G8),
            Type::F4 => quote!(F4),
            Type::F8 => quote!(F8),
            Type::Ref => quote!(Ref),
            Type::Pint => quote!(Pint),
        };
        quote!(#krate::Type::#variant)
    }

    fn optional_type(&self, ty: Option<Type>) -> TokenStream {
        match ty {
            Some(ty) => {
                let ty = self.ty(ty);
                quote!(::core::option::Option::Some(#ty))
            }
            None => quote!(::core::option::Option::None),
        }
    }

    /// `None` is `void`.
    fn return_type(&self, ty: Option<Type>) -> TokenStream {
        self.optional_type(ty)
    }

    fn cc(&self, cc: CallConv) -> TokenStream {
        let krate = self.krate;
        let variant = match cc {
            CallConv::Platform => quote!(Platform),
            CallConv::Managed => quote!(Managed),
            CallConv::Rth => quote!(Rth),
            CallConv::Jni => quote!(Jni),
            CallConv::StdCall => quote!(StdCall),
            CallConv::Handler => quote!(Handler),
        };
        quote!(#krate::CallConv::#variant)
    }

    fn ordering(&self, ordering: Ordering) -> TokenStream {
        let krate = self.krate;
        let variant = match ordering {
            Ordering::Plain => quote!(Plain),
            Ordering::Acquire => quote!(Acquire),
            Ordering::Release => quote!(Release),
        };
        quote!(#krate::Ordering::#variant)
    }

    fn extension(&self, extension: Extension) -> TokenStream {
        let krate = self.krate;
        let variant = match extension {
            Extension::Sign => quote!(Sign),
            Extension::Zero => quote!(Zero),
        };
        quote!(#krate::Extension::#variant)
    }

    fn unary_op(&self, op: UnaryOp) -> TokenStream {
        let krate = self.krate;
        let variant = match op {
            UnaryOp::Neg => quote!(Neg),
            UnaryOp::Not => quote!(Not),
            UnaryOp::Sx1 => quote!(Sx1),
            UnaryOp::Sx2 => quote!(Sx2),
            UnaryOp::Sx4 => quote!(Sx4),
            UnaryOp::Zx1 => quote!(Zx1),
            UnaryOp::Zx2 => quote!(Zx2),
            UnaryOp::Zx4 => quote!(Zx4),
            UnaryOp::Tr1 => quote!(Tr1),
            UnaryOp::Tr2 => quote!(Tr2),
            UnaryOp::Tr4 => quote!(Tr4),
        };
        quote!(#krate::UnaryOp::#variant)
    }

    fn binary_op(&self, op: BinaryOp) -> TokenStream {
        let krate = self.krate;
        let variant = match op {
            BinaryOp::Add => quote!(Add),
            BinaryOp::Sub => quote!(Sub),
            BinaryOp::Mul => quote!(Mul),
            BinaryOp::And => quote!(And),
            BinaryOp::Or => quote!(Or),
            BinaryOp::Xor => quote!(Xor),
            BinaryOp::Shl => quote!(Shl),
            BinaryOp::Sar => quote!(Sar),
            BinaryOp::Shr => quote!(Shr),
        };
        quote!(#krate::BinaryOp::#variant)
    }

    fn predicate(&self, predicate: Predicate) -> TokenStream {
        let krate = self.krate;
        let variant = match predicate {
            Predicate::Eq => quote!(Eq),
            Predicate::Ne => quote!(Ne),
            Predicate::Lt => quote!(Lt),
            Predicate::Le => quote!(Le),
            Predicate::Gt => quote!(Gt),
            Predicate::Ge => quote!(Ge),
            Predicate::Ult => quote!(Ult),
            Predicate::Ule => quote!(Ule),
            Predicate::Ugt => quote!(Ugt),
            Predicate::Uge => quote!(Uge),
        };
        quote!(#krate::Predicate::#variant)
    }

    fn call_kind(&self, kind: CallKind) -> TokenStream {
        let krate = self.krate;
        let variant = match kind {
            CallKind::Call => quote!(Call),
            CallKind::NoReturn => quote!(NoReturn),
            CallKind::Tail => quote!(Tail),
        };
        quote!(#krate::CallKind::#variant)
    }
}
