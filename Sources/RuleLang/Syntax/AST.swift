/// The syntax tree of a rule file. Every node keeps its source range, so that the checker, the
/// compiler and the CRD bridge can point back at what a person wrote.
public struct RuleFile: Sendable {
  public var declarations: [Declaration]

  public var constants: [ConstDecl] {
    declarations.compactMap { if case .const(let c) = $0 { c } else { nil } }
  }
  public var rulelists: [RulelistDecl] {
    declarations.compactMap { if case .rulelist(let r) = $0 { r } else { nil } }
  }
}

public enum Declaration: Sendable {
  case const(ConstDecl)
  case rulelist(RulelistDecl)
}

/// A name as written, with where it was written.
public struct Name: Sendable, Hashable, CustomStringConvertible {
  public let text: String
  public let range: SourceRange
  public var description: String { text }
}

/// `const NAME = EXPR`
public struct ConstDecl: Sendable {
  public let name: Name
  public let value: Expr
  public let range: SourceRange
}

/// `rulelist NAME for PROTOCOL { rule… }`
public struct RulelistDecl: Sendable {
  public let name: Name
  public let protocolName: Name
  public let rules: [Rule]
  public let range: SourceRange
}

/// `rule NAME [when EXPR] { action… }`
public struct Rule: Sendable {
  public let name: Name
  public let condition: Expr?
  public let actions: [Action]
  public let range: SourceRange
  /// The range of `rule NAME when …` up to the opening brace, for diagnostics about the rule.
  public let headRange: SourceRange
}

public enum Action: Sendable {
  /// `set PATH = EXPR`
  case set(target: Expr, value: Expr, range: SourceRange)
  /// `route to TARGET [via STAGE, …] [return via STAGE, …] [with KEY = VALUE, …]`
  case route(RouteAction)
  /// `drop`
  case drop(range: SourceRange)
  /// `apply RULELIST`
  case apply(Name, range: SourceRange)

  public var range: SourceRange {
    switch self {
    case .set(_, _, let r), .drop(let r), .apply(_, let r): return r
    case .route(let route): return route.range
    }
  }
}

public struct RouteAction: Sendable {
  public let destination: Name
  /// Ingress stages, in order: request–response hops before the destination.
  public let via: [Name]
  /// Egress stages, in order: hops for replies on their way back.
  public let returnVia: [Name]
  public let options: [RouteOption]
  public let range: SourceRange
}

/// `KEY = VALUE` after `with`.
public struct RouteOption: Sendable {
  public let key: Name
  public let value: Expr
}

public enum LogicalOperator: String, Sendable, Hashable {
  case and, or
}

public enum BinaryOperator: String, Sendable, Hashable {
  case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">"
  case greaterEqual = ">="
  case `in`, starts, ends, contains, matches
  case bitAnd = "&"

  public var isComparison: Bool { self != .bitAnd }
}

/// An expression node. A class, so the checker can record each node's type and constant value in
/// place without copying the tree.
public final class Expr: @unchecked Sendable {
  public indirect enum Kind {
    case integer(Int64)
    case string(String)
    case bytes([UInt8])
    case ip(IPAddress)
    case cidr(CIDR)
    case duration(Int64)
    case bool(Bool)
    /// `{a, b, c}`
    case set([Expr])
    /// `lo..hi`
    case range(Expr, Expr)
    /// A metadata path (`IP.src_addr`, `HTTP.headers["x-id"]`, `payload`), or a constant's name:
    /// which one is decided by the checker.
    case path([PathSegment])
    /// `payload[3]`
    case index(Expr, Expr)
    /// `payload[8:4]` (offset, length)
    case slice(Expr, Expr, Expr)
    case call(Name, [Expr])
    case not(Expr)
    /// `a and b and c`: kept flat, so long chains do not make deep trees.
    case logical(LogicalOperator, [Expr])
    case binary(BinaryOperator, Expr, Expr, operatorRange: SourceRange)
    /// `( e )`, kept for exact ranges and for printing.
    case paren(Expr)
    /// Something the parser already reported; the checker stays quiet about it.
    case error
  }

  public let kind: Kind
  public let range: SourceRange
  /// Filled in by the checker.
  public internal(set) var type: RuleType = .error
  /// Filled in by the checker for constant expressions (literals, consts, and what folds from them).
  public internal(set) var constant: Value? = nil
  /// For `.path` nodes naming a `const`: filled in by the checker.
  public internal(set) var constReference: String? = nil

  public init(_ kind: Kind, _ range: SourceRange) {
    self.kind = kind
    self.range = range
  }
}

public struct PathSegment: Sendable, Hashable {
  public let name: String
  public let range: SourceRange
  /// True for `["x-name"]` segments.
  public let bracketed: Bool
}

extension Expr {
  /// The dotted path, e.g. `HTTP.headers.x-id`, for messages.
  public var pathText: String? {
    guard case .path(let segs) = kind else { return nil }
    return segs.map(\.name).joined(separator: ".")
  }
}
