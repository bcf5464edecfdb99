import Config

/// A place in a manifest: the file and the node's line and column.
public struct ManifestLocation: Sendable, Hashable, CustomStringConvertible {
  public var file: String
  public var mark: YAMLMark

  public init(file: String, mark: YAMLMark) {
    self.file = file
    self.mark = mark
  }

  public var description: String { "\(file):\(mark.line):\(mark.column)" }
}

/// A finding about the manifests, at the YAML node it is about.
public struct BridgeDiagnostic: Sendable, Hashable, CustomStringConvertible {
  public enum Severity: String, Sendable, Hashable {
    case error, warning, note
  }

  public var severity: Severity
  public var message: String
  /// Nil only for a whole input that could not be read at all (no position known).
  public var location: ManifestLocation?
  /// The input's name when there is no location.
  public var input: String

  public init(_ severity: Severity, _ message: String, at location: ManifestLocation) {
    self.severity = severity
    self.message = message
    self.location = location
    self.input = location.file
  }

  init(_ error: ConfigError) {
    severity = .error
    message = error.message
    input = error.input
    location = error.line.map {
      ManifestLocation(file: error.input, mark: YAMLMark(line: $0, column: error.column ?? 1))
    }
  }

  /// `file:line:col: error: message`, as `l7mp check` prints.
  public var description: String {
    "\(location?.description ?? input): \(severity.rawValue): \(message)"
  }
}

/// Diagnostics in the order found, with the counts the CLI reports.
public struct BridgeDiagnostics: Sendable {
  public private(set) var all: [BridgeDiagnostic] = []

  public init() {}

  public mutating func error(_ message: String, at location: ManifestLocation) {
    all.append(BridgeDiagnostic(.error, message, at: location))
  }

  public mutating func warning(_ message: String, at location: ManifestLocation) {
    all.append(BridgeDiagnostic(.warning, message, at: location))
  }

  public mutating func append(_ d: BridgeDiagnostic) { all.append(d) }

  public var hasErrors: Bool { all.contains { $0.severity == .error } }
  public var errorCount: Int { all.count { $0.severity == .error } }
  public var warningCount: Int { all.count { $0.severity == .warning } }
}
