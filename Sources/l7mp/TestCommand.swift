import ArgumentParser
import Config
import Foundation
import Repl
import RuleLang
import VM

/// `l7mp test RULES --pcap FILE [--expect FILE]`: the verdict of every captured packet, checked
/// against expectations.
struct TestCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "test",
    abstract: "Run rules on every packet of a capture; check the verdicts against expectations.",
    discussion: """
      Reads the pcap or pcapng capture (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback; \
      VLAN tags; IPv4 and IPv6; UDP and TCP) and prints, for every frame, its number, time \
      (seconds since the first frame), flow, length on the wire, the rule that matched and its \
      action. Frames that cannot be decoded are listed with the reason.

      Each packet goes to --rulelist if given, else to the first rulelist for its protocol \
      (UDP or TCP); a packet whose protocol has no rulelist is listed as not run.

      With --expect, the verdicts are checked against an expectations file (YAML or JSON; \
      docs/testing.md):
        {"expect": [{"frame": 1, "rule": "from-gateway", "route": "worker"},
                    {"frame": 4, "drop": true}]}

      Exit status: 0 done (and every expectation holds); 1 an expectation does not hold, or the \
      rules have errors; 2 usage or I/O errors (unreadable or damaged capture, malformed \
      expectations, unknown rulelist).
      """
  )

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case table, json
  }

  @Argument(help: "The .rules file ('-' for standard input).")
  var rules: String

  @Option(help: ArgumentHelp("The capture to run: a pcap or pcapng file.", valueName: "file"))
  var pcap: String

  @Option(help: "Run every packet through this rulelist (default: the first for its protocol).")
  var rulelist: String?

  @Option(
    help: ArgumentHelp(
      "Expectations to check (YAML or JSON: frame → rule, route, drop, verdict, set).",
      valueName: "file"))
  var expect: String?

  @Option(help: "Output format: 'table' for people, 'json' for scripts.")
  var format: Format = .table

  func run() throws {
    let expectations = try expect.map(Self.readExpectations)
    let compiled = try Self.compileRules(rules)
    var chosen: Int? = nil
    if let rulelist {
      guard let k = compiled.program.rulelist(named: rulelist) else {
        let names = compiled.program.rulelists.map { "\($0.name) (\($0.protocolName))" }
        Output.error(
          "l7mp test: no rulelist named '\(rulelist)'; the rulelists are \(names.joined(separator: ", "))\n"
        )
        throw ExitCode(2)
      }
      chosen = k
    }
    let capture: Capture
    do {
      capture = try Capture.read(pcap)
    } catch {
      Output.error("l7mp test: \(error.description)\n")
      throw ExitCode(2)
    }
    let outcomes = CaptureRun.run(capture, compiled, rulelist: chosen)
    let differences = expectations?.check(outcomes, compiled) ?? []

    switch format {
    case .table:
      var out = VerdictTable.text(outcomes, compiled)
      let decoded = capture.packetCount
      out +=
        "\(capture.path): \(capture.frames.count) frames (\(capture.format), \(capture.linkType)), \(decoded) decoded, \(capture.frames.count - decoded) undecodable\n"
      if let expectations, let expect {
        for d in differences { out += "\(expect): \(d)\n" }
        let n = expectations.expect.count
        out +=
          differences.isEmpty
          ? "\(expect): all \(n) expectations hold\n"
          : "\(expect): \(differences.count) difference\(differences.count == 1 ? "" : "s") in \(n) expectations\n"
      }
      Output.write(out)
    case .json:
      let q = VerdictTable.quote
      var fields = [
        "\"capture\":\(q(capture.path))", "\"format\":\(q(capture.format.rawValue))",
        "\"linkType\":\(q("\(capture.linkType)"))",
        "\"frames\":[\n  " + VerdictTable.json(outcomes, compiled).joined(separator: ",\n  ")
          + "\n]",
      ]
      if let expectations {
        let items = differences.map { "{\"frame\":\($0.frame),\"message\":\(q($0.message))}" }
        fields.append(
          "\"expectations\":{\"checked\":\(expectations.expect.count),\"differences\":[\(items.joined(separator: ","))]}"
        )
      }
      Output.write("{" + fields.joined(separator: ",\n") + "}\n")
    }
    if let damage = capture.damage {
      Output.error("l7mp test: \(damage.description)\n")
      throw ExitCode(2)
    }
    if !differences.isEmpty { throw ExitCode(1) }
  }

  /// Reads, checks, compiles and verifies rule source; diagnostics go to standard error.
  static func compileRules(_ path: String) throws -> CompiledRules {
    let source: SourceFile
    switch SourceReader.read(path) {
    case .success(let s): source = s
    case .failure(let e):
      Output.error("l7mp: \(e.description)\n")
      throw ExitCode(2)
    }
    let (compiled, diagnostics) = CompiledRules.build(source)
    if !diagnostics.isEmpty {
      Output.error(DiagnosticRenderer(color: isatty(2) != 0).render(diagnostics, in: source))
    }
    guard let compiled else { throw ExitCode(1) }
    return compiled
  }

  static func readExpectations(_ path: String) throws -> Expectations {
    guard let data = FileManager.default.contents(atPath: path) else {
      let exists = FileManager.default.fileExists(atPath: path)
      Output.error(
        "l7mp test: cannot read '\(path)': \(exists ? "permission denied or a directory" : "no such file")\n"
      )
      throw ExitCode(2)
    }
    do {
      return try ConfigDocument.decode(Expectations.self, from: [UInt8](data), name: path)
    } catch {
      Output.error("l7mp test: \(error.description)\n")
      throw ExitCode(2)
    }
  }
}
