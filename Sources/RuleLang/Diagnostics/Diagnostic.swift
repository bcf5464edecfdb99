/// How serious a diagnostic is. Errors stop a rule file from being compiled; warnings flag what is
/// legal but likely wrong.
public enum Severity: String, Sendable, Hashable, Codable {
  case error
  case warning
  case note
}

/// A suggested edit: replace `range` with `replacement`.
public struct FixIt: Sendable, Hashable {
  public let range: SourceRange
  public let replacement: String

  public init(range: SourceRange, replacement: String) {
    self.range = range
    self.replacement = replacement
  }
}

/// One finding about a source: where, how serious, what, and what to do about it.
public struct Diagnostic: Sendable, Hashable {
  public let severity: Severity
  public let message: String
  public let range: SourceRange
  public var fixIts: [FixIt]
  /// Related places ("the earlier rule is here"), each with its own message.
  public var notes: [Note]

  public struct Note: Sendable, Hashable {
    public let message: String
    public let range: SourceRange?
    public init(message: String, range: SourceRange?) {
      self.message = Diagnostic.clipped(message)
      self.range = range
    }
  }

  public init(
    _ severity: Severity, _ message: String, at range: SourceRange, fixIts: [FixIt] = [],
    notes: [Note] = []
  ) {
    self.severity = severity
    self.message = Diagnostic.clipped(message)
    self.range = range
    self.fixIts = fixIts
    self.notes = notes
  }

  /// Messages longer than this many bytes (those quoting a huge token) keep only their beginning
  /// and end, so that no input makes a diagnostic huge.
  public static let maxMessageLength = 1000

  /// `s`, or if it is longer than `limit` bytes, its first and last `limit / 2` bytes (to whole
  /// characters) around "…".
  public static func clipped(_ s: String, to limit: Int = maxMessageLength) -> String {
    guard s.utf8.count > limit else { return s }
    let bytes = Array(s.utf8)
    var head = limit / 2
    while head > 0, bytes[head] & 0xC0 == 0x80 { head -= 1 }
    var tail = bytes.count - limit / 2
    while tail < bytes.count, bytes[tail] & 0xC0 == 0x80 { tail += 1 }
    return String(decoding: bytes[..<head], as: UTF8.self) + "…"
      + String(decoding: bytes[tail...], as: UTF8.self)
  }

  public static func error(
    _ message: String, at range: SourceRange, fixIts: [FixIt] = [], notes: [Note] = []
  ) -> Diagnostic {
    Diagnostic(.error, message, at: range, fixIts: fixIts, notes: notes)
  }

  public static func warning(
    _ message: String, at range: SourceRange, fixIts: [FixIt] = [], notes: [Note] = []
  ) -> Diagnostic {
    Diagnostic(.warning, message, at: range, fixIts: fixIts, notes: notes)
  }
}

/// Collects diagnostics in the order they are found, and caps their number so that a hostile input
/// cannot produce an unbounded report.
public struct DiagnosticBag: Sendable {
  public private(set) var diagnostics: [Diagnostic] = []
  public static let limit = 200
  public private(set) var dropped = 0

  public init() {}

  public mutating func append(_ d: Diagnostic) {
    if diagnostics.count < Self.limit { diagnostics.append(d) } else { dropped += 1 }
  }

  public mutating func error(_ message: String, at range: SourceRange, fixIts: [FixIt] = []) {
    append(.error(message, at: range, fixIts: fixIts))
  }

  public mutating func warning(_ message: String, at range: SourceRange, fixIts: [FixIt] = []) {
    append(.warning(message, at: range, fixIts: fixIts))
  }

  public mutating func append(contentsOf other: DiagnosticBag) {
    for d in other.diagnostics { append(d) }
    dropped += other.dropped
  }

  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
  public var errorCount: Int { diagnostics.count { $0.severity == .error } }
  public var warningCount: Int { diagnostics.count { $0.severity == .warning } }
}
