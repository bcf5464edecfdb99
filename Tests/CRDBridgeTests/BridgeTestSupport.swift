import CRDBridge
import Foundation

/// Manifests written in tests, translated in-process.
enum Fixture {
  static func translate(_ files: [(String, String)]) -> Translation {
    Bridge.translate(files.map { (name: $0.0, bytes: Array($0.1.utf8)) })
  }

  static func translate(_ yaml: String) -> Translation { translate([("t.yaml", yaml)]) }

  /// A VirtualService with one listener of `proto` and one rule matching `match` (flow YAML), routed
  /// to an inline Echo cluster; pods so that it runs somewhere.
  static func rule(match: String, proto: String = "UDP", extra: String = "") -> String {
    """
    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata: {name: vs}
    spec:
      selector: {matchLabels: {app: gw}}
      listener:
        name: l
        spec: {protocol: \(proto), port: 9001}
        rules:
          - match: \(match)
            action:
              \(extra)route: {destination: {name: echo, spec: {protocol: Echo}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: gw-0, labels: {app: gw}}
    status: {podIP: 127.0.0.1}
    """
  }

  /// The `when` condition of the first rule in the first listener's source.
  static func condition(_ t: Translation) -> String? {
    guard let source = t.listeners.first?.source,
      let line = source.split(separator: "\n").first(where: { $0.contains("rule rule1") })
    else { return nil }
    guard let when = line.range(of: " when ") else { return "" }
    return String(line[when.upperBound...].dropLast(2))
  }

  /// Messages of the diagnostics as printed (`file:line:col: severity: message`).
  static func messages(_ t: Translation) -> [String] { t.diagnostics.all.map(\.description) }

  /// The repository root (for examples/).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func repoFile(_ path: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
  }
}
