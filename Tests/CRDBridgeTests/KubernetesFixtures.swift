import Foundation

/// The recorded API responses and kubeconfigs under Fixtures/kubernetes.
enum KubernetesFixtures {
  static let directory: String =
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    .appendingPathComponent("kubernetes").path

  static func path(_ name: String) -> String { directory + "/" + name }

  static func bytes(_ name: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path(name)) else {
      fatalError("missing test fixture \(path(name))")
    }
    return [UInt8](data)
  }

  /// The lines of a `.jsonl` watch recording, each with its newline.
  static func lines(_ name: String) -> [[UInt8]] {
    bytes(name).split(separator: UInt8(ascii: "\n")).map { Array($0) + [UInt8(ascii: "\n")] }
  }

  /// A fresh temporary folder, removed by the caller.
  static func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("l7mp-k8s-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }
}
