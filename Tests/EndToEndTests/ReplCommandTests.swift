import Foundation
import Testing

/// `l7mp repl` as the real binary: scripted through a pipe, and at a terminal (a tmux pane) for
/// editing, history, completion, Ctrl-C and Ctrl-D.
@Suite struct ReplCommandTests {
  static let rules = CLI.repo("examples/gateway.rules")
  static let capture = CLI.repo("examples/captures/gateway.pcap")

  @Test func pipedSessionHasNoPromptAndTheSameResults() throws {
    let script = """
      :packets rule sip
      :packet 3
      payload[0] & 0xc0
      :frobnicate
      :trace 2
      rule dns when UDP.dst_port == 53 {
        route to resolver
      }
      :packet 4
      :quit
      :packets
      """
    let r = try CLI.run(
      ["repl", Self.rules, "--pcap", Self.capture, "--history", ""], stdin: script)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stdout.contains("l7mp>"), "\(r.stdout)")
    #expect(r.stdout.contains("loaded \(Self.rules): 4 rules in 1 rulelist: my-udp-endpoint (UDP)"))
    #expect(
      r.stdout.contains(
        "loaded \(Self.capture): 10 frames (pcap, ethernet), 7 decoded, 3 undecodable"))
    #expect(r.stdout.contains("128 : int?\n"), "\(r.stdout)")
    #expect(r.stdout.contains("error: unknown command ':frobnicate'"))
    // After the error, the session went on.
    #expect(r.stdout.contains("✓ rule sip (line 11)"))
    #expect(r.stdout.contains("added rule dns at the end of rulelist my-udp-endpoint"))
    #expect(r.stdout.contains("verdict: rule everything-else"))
    // Nothing after :quit ran: the table of :packets appears once (from the first line).
    #expect(r.stdout.components(separatedBy: "frame  time").count == 2)
  }

  @Test func pipedInputEndingInsideADefinition() throws {
    let r = try CLI.run(["repl", "--history", ""], stdin: "rule open when true {\n")
    #expect(r.status == 0)
    #expect(r.stdout.contains("error: the input ended inside a definition"))
  }

  // MARK: at a terminal

  /// A tmux server of its own (its own socket), one pane running the REPL.
  final class Terminal {
    let socket: String
    let history: String

    init(_ arguments: [String], history: String? = nil) throws {
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "l7mp-tmux-\(UUID().uuidString.prefix(8))")
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      socket = dir.appendingPathComponent("s").path
      self.history = history ?? dir.appendingPathComponent("history").path
      let command =
        ([try CLI.executable.path, "repl"] + arguments + ["--history", self.history])
        .map { "'\($0)'" }.joined(separator: " ")
      try tmux(
        capturing: false,
        [
          "new-session", "-d", "-x", "160", "-y", "50",
          "env TERM=xterm HOME=\(dir.path) \(command); sleep 30",
        ])
    }

    deinit { _ = try? tmux(capturing: false, ["kill-server"]) }

    /// Runs a tmux command. Only `capture-pane` output is read: `new-session` starts the server,
    /// which would hold a pipe open for as long as it lives.
    @discardableResult
    func tmux(capturing: Bool = true, _ arguments: [String]) throws -> String {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = ["tmux", "-S", socket] + arguments
      let out = Pipe()
      p.standardOutput = capturing ? out : FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      p.standardInput = FileHandle.nullDevice
      try p.run()
      let data = capturing ? out.fileHandleForReading.readDataToEndOfFile() : Data()
      p.waitUntilExit()
      return String(decoding: data, as: UTF8.self)
    }

    func keys(_ keys: String...) throws {
      try tmux(capturing: false, ["send-keys", "-t", "0"] + keys)
    }

    /// Types text literally.
    func type(_ text: String) throws {
      try tmux(capturing: false, ["send-keys", "-t", "0", "-l", text])
    }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "0", "-S", "-200"]) }

    /// Waits (at most 20 s) until the screen satisfies `condition`; the last screen either way.
    func wait(
      for what: String, _ condition: (String) -> Bool,
      sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
      let deadline = Date().addingTimeInterval(20)
      var last = ""
      while Date() < deadline {
        last = try screen()
        if condition(last) { return last }
        Thread.sleep(forTimeInterval: 0.1)
      }
      Issue.record(
        "timed out waiting for \(what); the screen:\n\(last)", sourceLocation: sourceLocation)
      return last
    }

    func wait(
      for text: String, count: Int = 1, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
      try wait(
        for: "'\(text)' ×\(count)", { $0.components(separatedBy: text).count > count },
        sourceLocation: sourceLocation)
    }
  }

  @Test func editingCompletionHistoryAndKeys() throws {
    let t = try Terminal([Self.rules, "--pcap", Self.capture])
    _ = try t.wait(for: "l7mp>")

    // Tab completes a command; Enter runs it.
    try t.type(":tr")
    try t.keys("Tab")
    _ = try t.wait(for: "l7mp> :trace")
    try t.type("2")
    try t.keys("Enter")
    _ = try t.wait(for: "verdict: rule sip")

    // Tab with several candidates lists them.
    try t.type(":p")
    try t.keys("Tab")
    let listed = try t.wait(for: "the candidates") {
      $0.contains(":packets") && $0.contains(":pcap")
    }
    #expect(listed.contains(":packet "))
    try t.keys("C-u")

    // Editing: the start of the line, a word inserted there.
    try t.type("dst_port")
    try t.keys("C-a")
    try t.type("UDP.")
    try t.keys("Enter")
    _ = try t.wait(for: "5060 : int")

    // History: Up recalls the :trace line.
    try t.keys("Up", "Up", "Enter")
    _ = try t.wait(for: "verdict: rule sip", count: 2)

    // Ctrl-C drops a definition being typed.
    try t.type("rule half when true {")
    try t.keys("Enter")
    _ = try t.wait(for: "...>")
    try t.keys("C-c")
    try t.type("UDP.src_port")
    try t.keys("Enter")
    _ = try t.wait(for: "5000 : int")

    // Ctrl-D quits; the history is on disk.
    try t.keys("C-d")
    _ = try t.wait(for: "the history file") { _ in
      (try? String(contentsOfFile: t.history, encoding: .utf8))?.contains("UDP.src_port") == true
    }
    let history = try String(contentsOfFile: t.history, encoding: .utf8)
    #expect(history.contains("UDP.dst_port"), "\(history)")
    #expect(history.contains(":trace"), "\(history)")

    // A new session reads it: Up recalls the last line (on frame 1 now).
    let again = try Terminal([Self.rules, "--pcap", Self.capture], history: t.history)
    _ = try again.wait(for: "l7mp>")
    try again.keys("Up")
    _ = try again.wait(for: "l7mp> UDP.src_port")
    try again.keys("Enter")
    _ = try again.wait(for: "9001 : int")
  }
}
