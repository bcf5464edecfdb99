import ArgumentParser
import CRDBridge
import Config
import Foundation

/// `l7mp crd translate|validate FILE…`: VirtualService manifests to rules and proxy configuration.
struct CRDCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crd",
    abstract: "Translate and check VirtualService / Route manifests.",
    discussion: """
      Reads Kubernetes manifests (YAML, several documents per file; directories are read for \
      *.yaml, *.yml and *.json): VirtualService and Route objects (apiVersion l7mp.io/v1) and the \
      Services, EndpointSlices and Pods they refer to. See docs/crd.md.
      """,
    subcommands: [CRDTranslateCommand.self, CRDValidateCommand.self]
  )
}

/// Options shared by both subcommands.
struct ManifestInputs: ParsableArguments {
  @Argument(help: "Manifest files or directories ('-' for standard input).")
  var files: [String]

  @Flag(help: "Exit with status 1 when there are warnings, too.")
  var warningsAsErrors = false

  func validate() throws {
    if files.isEmpty {
      throw ValidationError(
        "give at least one manifest, e.g. l7mp crd validate examples/udp-gateway")
    }
  }

  /// The files' contents, in order; directories expanded (sorted). Unreadable ones are reported.
  func read() -> (files: [(name: String, bytes: [UInt8])], unreadable: Bool) {
    var out: [(name: String, bytes: [UInt8])] = []
    var unreadable = false
    for path in files {
      var isDirectory: ObjCBool = false
      if path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        isDirectory.boolValue
      {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter {
          $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")
        }
        if names.isEmpty {
          Output.error("l7mp crd: no *.yaml, *.yml or *.json files in '\(path)'\n")
          unreadable = true
        }
        for name in names.sorted() {
          let full = (path as NSString).appendingPathComponent(name)
          if let d = FileManager.default.contents(atPath: full) {
            out.append((full, Array(d)))
          } else {
            Output.error("l7mp crd: cannot read '\(full)'\n")
            unreadable = true
          }
        }
        continue
      }
      switch SourceReader.read(path) {
      case .success(let source): out.append((source.name, source.bytes))
      case .failure(let e):
        Output.error("l7mp crd: \(e.description)\n")
        unreadable = true
      }
    }
    return (out, unreadable)
  }

  /// Prints the diagnostics and the summary; the exit status they call for.
  func report(_ t: Translation, unreadable: Bool) -> Int32 {
    for d in t.diagnostics.all { Output.error(d.description + "\n") }
    let e = t.diagnostics.errorCount
    let w = t.diagnostics.warningCount
    Output.error("\(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s")\n")
    if unreadable { return 2 }
    return e > 0 || (warningsAsErrors && w > 0) ? 1 : 0
  }
}

struct CRDValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Check manifests: print diagnostics as file:line:col; exit 1 on errors.",
    discussion: """
      Reads, resolves, translates and compiles every listener's rules, and reports what is wrong \
      with its manifest position. Exit status: 0 no errors, 1 errors (or warnings with \
      --warnings-as-errors), 2 unreadable files or wrong arguments.
      """
  )

  @OptionGroup var inputs: ManifestInputs

  func run() throws {
    let (files, unreadable) = inputs.read()
    let status = inputs.report(Bridge.translate(files), unreadable: unreadable)
    if status != 0 { throw ExitCode(status) }
  }
}

struct CRDTranslateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "translate",
    abstract: "Print the rule source of every listener, or the proxy configuration per proxy set.",
    discussion: """
      Without --config: one rulelist per listener, named after it, as checked and compiled. With \
      --config: for every set of pods running the same VirtualServices, the configuration \
      (listeners, clusters, rulelists) that 'l7mp run --config' reads. Diagnostics go to standard \
      error; the exit status is as for 'l7mp crd validate'.
      """
  )

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case yaml, json
  }

  @OptionGroup var inputs: ManifestInputs

  @Flag(help: "Print the proxy configuration per proxy set instead of the rule source.")
  var config = false

  @Option(help: "Format of --config output: yaml (one document per proxy set) or json (a list).")
  var format: Format = .yaml

  func run() throws {
    let (files, unreadable) = inputs.read()
    let t = Bridge.translate(files)
    if config {
      Output.write(try Self.render(t.proxySets, format: format))
    } else {
      for (i, l) in t.listeners.enumerated() {
        guard let source = l.source else { continue }
        Output.write((i > 0 ? "\n" : "") + source)
      }
    }
    let status = inputs.report(t, unreadable: unreadable)
    if status != 0 { throw ExitCode(status) }
  }

  struct ProxySetDocument: Encodable {
    var proxySet: String
    var pods: [Pod]
    var config: ProxyConfig

    struct Pod: Encodable {
      var name: String
      var namespace: String
      var ip: String?
    }
  }

  static func render(_ sets: [ProxySet], format: Format) throws -> String {
    switch format {
    case .json:
      let docs = sets.map { s in
        ProxySetDocument(
          proxySet: s.name,
          pods: s.pods.map {
            ProxySetDocument.Pod(name: $0.name, namespace: $0.namespace, ip: $0.ip)
          },
          config: s.config)
      }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      return String(decoding: try encoder.encode(docs), as: UTF8.self) + "\n"
    case .yaml:
      var out = ""
      for (i, s) in sets.enumerated() {
        if i > 0 { out += "---\n" }
        let pods = s.pods.map { "\($0.namespace)/\($0.name)" + ($0.ip.map { " (\($0))" } ?? "") }
        out += "# proxy set \(s.name): pods \(pods.joined(separator: ", "))\n"
        out += try YAMLWriter.encode(s.config)
      }
      return out
    }
  }
}
