/// The reserved words of the rule language. A keyword is never a plain identifier in an
/// expression, but rule, rulelist and target names may still spell one (they are Kubernetes names).
public enum Keyword: String, Sendable, CaseIterable {
  case constant = "const"
  case rulelist, `for`, rule, when, set, route, to, via
  case returnKeyword = "return"
  case with, drop, apply
  case and, or, not, `in`, starts, ends, contains, matches
  case trueLiteral = "true"
  case falseLiteral = "false"
}

public enum TokenKind: Sendable, Hashable {
  case identifier  // may contain '-' and '.', e.g. my-udp-endpoint, IP.src_addr
  case keyword(Keyword)
  case integer  // 42, 0xc0
  case string  // "text" with escapes
  case bytes  // x"80 00 1f"
  case ip  // 10.0.0.1, ::1
  case cidr  // 10.0.0.0/24, 2001:db8::/32
  case duration  // 2s, 500ms, 1m30s
  case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
  case comma, colon, assign  // , : =
  case equal, notEqual, less, lessEqual, greater, greaterEqual  // == != < <= > >=
  case ampersand, ampAmp, pipePipe, bang  // & && || !
  case dotDot  // ..
  case invalid  // something the lexer reported an error for
  case endOfFile
}

/// A literal's value, decoded by the lexer.
public enum TokenValue: Sendable, Hashable {
  case none
  case integer(Int64)
  case string(String)
  case bytes([UInt8])
  case ip(IPAddress)
  case cidr(CIDR)
  /// Nanoseconds.
  case duration(Int64)
}

public struct Token: Sendable, Hashable {
  public let kind: TokenKind
  public let range: SourceRange
  /// 1-based line and column (in bytes) of the first character.
  public let line: Int
  public let column: Int
  public let value: TokenValue
  /// The token's source text.
  public let text: String

  public var offset: Int { range.start }
}

extension TokenKind: CustomStringConvertible {
  public var description: String {
    switch self {
    case .identifier: return "a name"
    case .keyword(let k): return "'\(k.rawValue)'"
    case .integer: return "an integer"
    case .string: return "a string"
    case .bytes: return "a byte string"
    case .ip: return "an IP address"
    case .cidr: return "a CIDR"
    case .duration: return "a duration"
    case .leftParen: return "'('"
    case .rightParen: return "')'"
    case .leftBrace: return "'{'"
    case .rightBrace: return "'}'"
    case .leftBracket: return "'['"
    case .rightBracket: return "']'"
    case .comma: return "','"
    case .colon: return "':'"
    case .assign: return "'='"
    case .equal: return "'=='"
    case .notEqual: return "'!='"
    case .less: return "'<'"
    case .lessEqual: return "'<='"
    case .greater: return "'>'"
    case .greaterEqual: return "'>='"
    case .ampersand: return "'&'"
    case .ampAmp: return "'&&'"
    case .pipePipe: return "'||'"
    case .bang: return "'!'"
    case .dotDot: return "'..'"
    case .invalid: return "an invalid token"
    case .endOfFile: return "the end of the file"
    }
  }
}
