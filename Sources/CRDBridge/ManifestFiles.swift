import Foundation

/// Manifest files named on the command line: files as they are, directories expanded to their
/// `*.yaml`, `*.yml` and `*.json` files (sorted, not recursive).
public enum ManifestFiles {
  public struct Read: Sendable {
    public var files: [(name: String, bytes: [UInt8])]
    /// `path: why`, one per file or directory that could not be read.
    public var problems: [String]
  }

  public static func read(_ paths: [String]) -> Read {
    var out = Read(files: [], problems: [])
    for path in expand(paths, problems: &out.problems) {
      if let d = FileManager.default.contents(atPath: path) {
        out.files.append((path, Array(d)))
      } else {
        out.problems.append("\(path): cannot read the file")
      }
    }
    return out
  }

  /// What changes when a manifest is edited, added or removed: names, sizes and modification
  /// times. `l7mp bridge --manifests` polls it.
  public static func fingerprint(_ paths: [String]) -> [String] {
    var ignored: [String] = []
    return expand(paths, problems: &ignored).map { path in
      let a = try? FileManager.default.attributesOfItem(atPath: path)
      let size = (a?[.size] as? NSNumber)?.int64Value ?? -1
      let time = (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
      return "\(path) \(size) \(time)"
    }
  }

  static func expand(_ paths: [String], problems: inout [String]) -> [String] {
    var out: [String] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        problems.append("\(path): no such file or directory")
        continue
      }
      guard isDirectory.boolValue else {
        out.append(path)
        continue
      }
      guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
        problems.append("\(path): cannot list the directory")
        continue
      }
      let manifests = names.filter {
        $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")
      }
      if manifests.isEmpty { problems.append("no *.yaml, *.yml or *.json files in '\(path)'") }
      for name in manifests.sorted() {
        out.append((path as NSString).appendingPathComponent(name))
      }
    }
    return out
  }
}
