/// Prints expressions back as rule source, in a canonical spacing; used for messages, shadowing
/// analysis, and by tools that generate rules.
public enum ExprPrinter {
  public static func print(_ e: Expr) -> String {
    switch e.kind {
    case .integer(let v): return String(v)
    case .string(let s): return Value.string(s).description
    case .bytes(let b): return Value.bytes(b).description
    case .ip(let a): return a.description
    case .cidr(let c): return c.description
    case .duration(let d): return Value.formatDuration(d)
    case .bool(let b): return b ? "true" : "false"
    case .set(let es): return "{" + es.map(print).joined(separator: ", ") + "}"
    case .range(let a, let b): return print(a) + ".." + print(b)
    case .path(let segs):
      var out = ""
      for (k, s) in segs.enumerated() {
        if s.bracketed {
          out += "[" + Value.string(s.name).description + "]"
        } else {
          out += (k == 0 ? "" : ".") + s.name
        }
      }
      return out
    case .index(let b, let i): return print(b) + "[" + print(i) + "]"
    case .slice(let b, let o, let l): return print(b) + "[" + print(o) + ":" + print(l) + "]"
    case .call(let n, let args): return n.text + "(" + args.map(print).joined(separator: ", ") + ")"
    case .not(let x):
      if case .binary(.in, let l, let r, _) = x.kind { return print(l) + " not in " + print(r) }
      return "not " + print(x)
    case .logical(let op, let xs): return xs.map(print).joined(separator: " \(op.rawValue) ")
    case .binary(let op, let l, let r, _): return print(l) + " " + op.rawValue + " " + print(r)
    case .paren(let x): return "(" + print(x) + ")"
    case .error: return "<error>"
    }
  }

  /// The operands of a top-level `and`, parentheses removed: `a and (b and c)` → [a, b, c].
  public static func conjuncts(_ e: Expr) -> [Expr] {
    switch e.kind {
    case .paren(let x): return conjuncts(x)
    case .logical(.and, let xs): return xs.flatMap(conjuncts)
    default: return [e]
    }
  }
}
