import Foundation
import Testing

/// `l7mp check` as a person runs it: the real executable, real files, exit codes and output.
@Suite struct CheckCommandTests {
  @Test func cleanExampleExitsZero() throws {
    let r = try CLI.run(["check", CLI.repo("examples/gateway.rules")])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("0 errors, 0 warnings"))
  }

  @Test func fiveMistakesGetFivePreciseDiagnostics() throws {
    let r = try CLI.run(["check", CLI.repo("examples/mistakes.rules")])
    #expect(r.status == 1)
    let headers = r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
    #expect(headers.count == 5, "\(r.stderr)")
    let expected = [
      "mistakes.rules:3:26: error: unknown metadata field 'IP.src_adr'; did you mean 'IP.src_addr'?",
      "mistakes.rules:6:17: error: 'HTTP.method' is not available on a UDP rulelist",
      "mistakes.rules:9:17: error: cannot compare int with string",
      "mistakes.rules:10:39: error: route option 'timeout' must be duration, found int",
      "mistakes.rules:12:19: error: 'contains' needs bytes on the right",
    ]
    for (line, want) in zip(headers, expected) {
      #expect(line.contains(want), "\(line) should contain \(want)")
    }
    #expect(r.stderr.contains("fix-it 10:39: replace '2' with '2s'"))
    #expect(r.stderr.contains("                           ^~~~~~~~~~\n"))
  }

  @Test func jsonFormat() throws {
    let r = try CLI.run(["check", "--format", "json", CLI.repo("examples/mistakes.rules")])
    #expect(r.status == 1)
    let items = try #require(
      JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    #expect(items.count == 5)
    #expect(items[0]["line"] as? Int == 3)
    #expect(items[0]["column"] as? Int == 26)
    #expect(items[0]["endColumn"] as? Int == 36)
    #expect(items[0]["severity"] as? String == "error")
    let fix = try #require((items[0]["fixits"] as? [[String: Any]])?.first)
    #expect(fix["replacement"] as? String == "IP.src_addr")
  }

  @Test func warningsAloneExitZeroUnlessAskedOtherwise() throws {
    let file = try CLI.temporaryFile(
      "warn.rules",
      """
      const unused = 1
      rulelist l for UDP {
        rule a { drop }
      }
      """)
    let plain = try CLI.run(["check", file])
    #expect(plain.status == 0, "\(plain.stderr)")
    #expect(plain.stderr.contains("warning: constant 'unused' is never used"))
    let strict = try CLI.run(["check", "--warnings-as-errors", file])
    #expect(strict.status == 1)
  }

  @Test func unreadableFileIsExitTwo() throws {
    let r = try CLI.run(["check", "/nonexistent/x.rules"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("cannot read '/nonexistent/x.rules': no such file"))
    let dir = try CLI.run(["check", CLI.repo("examples")])
    #expect(dir.status == 2)
    #expect(dir.stderr.contains("is a directory"))
  }

  @Test func usageErrorsAreExitTwo() throws {
    let none = try CLI.run(["check"])
    #expect(none.status == 2)
    #expect(none.stderr.contains("Usage"))
    let bad = try CLI.run(["check", "--format", "xml", CLI.repo("examples/gateway.rules")])
    #expect(bad.status == 2)
    let unknown = try CLI.run(["frobnicate"])
    #expect(unknown.status == 2)
  }

  @Test func standardInput() throws {
    let r = try CLI.run(
      ["check", "-"], stdin: "rulelist l for UDP { rule r when payload[0] = 1 { drop } }\n")
    #expect(r.status == 1)
    #expect(r.stderr.contains("<stdin>:1:45: error: '=' assigns; compare with '=='"))
  }

  @Test func helpIsComplete() throws {
    let top = try CLI.run(["--help"])
    #expect(top.status == 0)
    #expect(top.stdout.contains("check"))
    #expect(top.stdout.contains("Exit codes"))
    let check = try CLI.run(["check", "--help"])
    #expect(check.status == 0)
    for option in ["--format", "--warnings-as-errors", "--color", "--quiet", "Exit status"] {
      #expect(check.stdout.contains(option), "check --help lacks \(option)")
    }
  }

  @Test func severalFilesAreReportedTogether() throws {
    let r = try CLI.run([
      "check", CLI.repo("examples/gateway.rules"), CLI.repo("examples/mistakes.rules"),
    ])
    #expect(r.status == 1)
    #expect(r.stderr.contains("2 files: 5 errors, 0 warnings"))
  }
}

/// Runs the built `l7mp` executable.
enum CLI {
  struct Result {
    let status: Int32
    let stdout: String
    let stderr: String
  }

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func repo(_ path: String) -> String { root.appendingPathComponent(path).path }

  /// The executable sits beside the test bundle in the build's products folder.
  static var executable: URL {
    get throws {
      var dir = Bundle.main.bundleURL
      for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("l7mp")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
      }
      struct NotBuilt: Error, CustomStringConvertible {
        var description: String {
          "l7mp executable not found next to the tests; run swift build first"
        }
      }
      throw NotBuilt()
    }
  }

  static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
    let process = Process()
    process.executableURL = try executable
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes before waiting, so a large output cannot block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
      stderr: String(decoding: e, as: UTF8.self))
  }

  static func temporaryFile(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }
}
