import Foundation
import RuleLang
import VM

/// The REPL's interpreter: it takes one line of input and returns what to print. It knows nothing
/// of terminals (`LineEditor` reads the lines), so scripts, tests and the prompt see the same
/// results. No input makes it stop: an error is a message, and the session goes on.
public final class ReplSession {
  /// The rules file loaded (`:load`), if any.
  public private(set) var rulesPath: String?
  /// The file's text as last read.
  var fileText = ""
  /// Definitions typed at the prompt, applied in order on top of the file.
  var definitions: [SessionSource.Definition] = []
  /// The session's rule source: the file with the definitions applied.
  public private(set) var source: SourceFile?
  /// The session's rules, when the source compiles.
  public private(set) var rules: CompiledRules?
  /// The rulelist chosen with `:rulelist` (by name, so that it survives a reload).
  var chosenRulelist: String?
  public private(set) var capture: Capture?
  var cachedOutcomes: [FrameOutcome]?
  /// The packet expressions, `:trace` and `:set` work on.
  var selection: Selection?
  /// Lines of a definition being typed (multi-line input).
  var pending: [String] = []

  struct Selection {
    /// The frame it came from, nil for a packet literal.
    var frame: Int?
    var `protocol`: RuleProtocol
    var packet: OwnedPacket
    /// Changed with `:set` since it was selected.
    var edited = false

    var label: String {
      let what = frame.map { "frame \($0)" } ?? "packet"
      return edited ? what + " (edited)" : what
    }
  }

  public init() {}

  /// Runs `body`; a `ReplError` it throws is the output.
  func reporting(_ body: () throws(ReplError) -> String) -> String {
    do {
      return try body()
    } catch {
      return error.text
    }
  }

  /// Whether a definition is being typed (the prompt shows a continuation).
  public var isContinuing: Bool { !pending.isEmpty }

  /// Drops the definition being typed (Ctrl-C).
  public func cancelInput() { pending = [] }

  /// The end of the input: a definition left open is reported.
  public func finish() -> String {
    guard !pending.isEmpty else { return "" }
    pending = []
    return
      "error: the input ended inside a definition (its braces do not balance); it was dropped\n"
  }

  /// Runs one line of input and returns what to print (empty, or lines ending in a newline).
  public func handle(_ line: String) -> String {
    if !pending.isEmpty {
      pending.append(line)
      let text = pending.joined(separator: "\n")
      guard SessionSource.isComplete(text) else { return "" }
      pending = []
      return define(text)
    }
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    if trimmed.isEmpty || trimmed.hasPrefix("//") { return "" }
    if trimmed.hasPrefix(":") { return command(trimmed) }
    if SessionSource.startsDefinition(trimmed) {
      guard SessionSource.isComplete(trimmed) else {
        pending = [line]
        return ""
      }
      return define(trimmed)
    }
    if Self.isPacketLiteral(trimmed) { return selectLiteral(trimmed) }
    return evaluateExpression(trimmed)
  }

  /// The protocol words a packet literal starts with (docs/packets.md).
  static let packetWords: Set<String> = ["udp", "tcp", "ws", "websocket", "uds", "unix"]

  /// A packet literal starts with its protocol word and a space: `udp 10.0.0.1:5 -> …`.
  static func isPacketLiteral(_ s: String) -> Bool {
    let word = s.prefix { !$0.isWhitespace }.lowercased()
    return word.count < s.count && packetWords.contains(word)
  }

  // MARK: commands

  struct Command {
    let name: String
    let arguments: String
    let summary: String
  }

  static let commands: [Command] = [
    Command(
      name: "load", arguments: "FILE", summary: "load a .rules file (forgets typed definitions)"),
    Command(
      name: "reload", arguments: "",
      summary: "read the rules file again; typed definitions are applied on top"),
    Command(name: "pcap", arguments: "FILE", summary: "load a pcap or pcapng capture"),
    Command(
      name: "packets", arguments: "[FILTER]",
      summary: "the frames and their verdicts; FILTER: an expression, 'undecodable', or 'rule NAME'"
    ),
    Command(
      name: "packet", arguments: "[N | LITERAL]",
      summary: "select frame N, or a packet literal, and show it"),
    Command(name: "run", arguments: "", summary: "the verdict of every frame, and totals per rule"),
    Command(
      name: "trace", arguments: "[N]",
      summary: "why the rules decided as they did for frame N (default: the selected packet)"),
    Command(
      name: "disasm", arguments: "[RULE]", summary: "the bytecode of the rules, or of one rule"),
    Command(name: "type", arguments: "EXPR", summary: "the type of an expression"),
    Command(
      name: "set", arguments: "PATH = VALUE",
      summary: "change the selected packet's metadata (VALUE 'absent' removes it)"),
    Command(
      name: "rulelist", arguments: "[NAME | auto]",
      summary: "the rulelist packets run through (auto: the first for their protocol)"),
    Command(name: "source", arguments: "", summary: "the session's rule source, with line numbers"),
    Command(name: "help", arguments: "", summary: "this list"),
    Command(name: "quit", arguments: "", summary: "leave (Ctrl-D too)"),
  ]

  func command(_ line: String) -> String {
    let body = line.dropFirst()
    let name = String(body.prefix { !$0.isWhitespace })
    let argument = body.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
    switch name {
    case "load": return argument.isEmpty ? usage("load") : load(argument)
    case "reload": return reload()
    case "pcap": return argument.isEmpty ? usage("pcap") : loadCapture(argument)
    case "packets": return packets(filter: argument)
    case "packet": return packet(argument)
    case "run": return runAll()
    case "trace": return trace(argument)
    case "disasm": return disassemble(argument)
    case "type": return argument.isEmpty ? usage("type") : typeOf(argument)
    case "set": return argument.isEmpty ? usage("set") : setField(argument)
    case "rulelist": return chooseRulelist(argument)
    case "source": return showSource()
    case "help", "h", "?": return help()
    case "quit", "q", "exit": return ""
    default:
      let names = Self.commands.map(\.name)
      let guess = Spelling.closest(to: name, in: names).first.map { "; did you mean ':\($0)'?" }
      return "error: unknown command ':\(name)'\(guess ?? ""); :help lists the commands\n"
    }
  }

  /// Whether `line` asks to leave.
  public static func isQuit(_ line: String) -> Bool {
    let t = line.trimmingCharacters(in: .whitespaces)
    return t == ":quit" || t == ":q" || t == ":exit"
  }

  func usage(_ name: String) -> String {
    let c = Self.commands.first { $0.name == name }!
    return "error: usage: :\(c.name) \(c.arguments) — \(c.summary)\n"
  }

  func help() -> String {
    var rows = Self.commands.map {
      [":" + $0.name + ($0.arguments.isEmpty ? "" : " " + $0.arguments), $0.summary]
    }
    rows += [
      ["EXPR", "evaluate an expression on the selected packet, e.g. payload[0] & 0xc0"],
      [
        "LITERAL",
        "select a packet literal, e.g. udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload \"hi\"",
      ],
      [
        "rule …, rulelist …, const …",
        "define or replace it in the session (multi-line until braces balance)",
      ],
    ]
    return VerdictTable.columns(rows)
      + "Tab completes commands, keywords, metadata paths and names; Ctrl-C cancels the input; Ctrl-D quits.\n"
  }

  // MARK: rules

  func load(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
      var isDirectory: ObjCBool = false
      let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      let why =
        !exists ? "no such file" : isDirectory.boolValue ? "it is a directory" : "permission denied"
      return "error: cannot read '\(path)': \(why)\n"
    }
    rulesPath = path
    fileText = String(decoding: data, as: UTF8.self)
    definitions = []
    return rebuild(announce: true)
  }

  func reload() -> String {
    guard let path = rulesPath else { return "error: no rules file loaded; use :load FILE\n" }
    guard let data = FileManager.default.contents(atPath: path) else {
      return "error: cannot read '\(path)' any more; the rules are unchanged\n"
    }
    fileText = String(decoding: data, as: UTF8.self)
    return rebuild(announce: true)
  }

  /// The session's source: the file with every definition applied.
  func sessionText(_ definitions: [SessionSource.Definition]) -> String {
    var text = fileText
    for d in definitions {
      text = SessionSource.apply(d, to: text, rulelist: chosenRulelist).text
    }
    return text
  }

  func sourceName(_ definitions: [SessionSource.Definition]) -> String {
    definitions.isEmpty ? (rulesPath ?? "<session>") : "<session>"
  }

  /// Compiles the session's source; on errors the rules are gone until fixed.
  func rebuild(announce: Bool) -> String {
    let s = SourceFile(name: sourceName(definitions), text: sessionText(definitions))
    let (compiled, diagnostics) = CompiledRules.build(s)
    source = s
    rules = compiled
    cachedOutcomes = nil
    var out = DiagnosticRenderer().render(diagnostics, in: s)
    guard let compiled else {
      return out + "error: \(s.name) has errors; no rules are loaded (fix them and :reload)\n"
    }
    if let chosen = chosenRulelist, compiled.program.rulelist(named: chosen) == nil {
      out +=
        "note: rulelist '\(chosen)' is gone; packets go to the first rulelist for their protocol\n"
      chosenRulelist = nil
    }
    if announce {
      let lists = compiled.program.rulelists.map { "\($0.name) (\($0.protocolName))" }
      out +=
        "loaded \(s.name): \(compiled.program.rules.count) rules in \(lists.count) rulelist\(lists.count == 1 ? "" : "s"): \(lists.joined(separator: ", "))\n"
    }
    return out
  }

  /// A definition typed at the prompt: kept if the session still compiles with it.
  func define(_ text: String) -> String {
    let definition: SessionSource.Definition
    do {
      definition = try SessionSource.parse(text)
    } catch {
      return error.text
    }
    let tentative = definitions + [definition]
    let s = SourceFile(name: sourceName(tentative), text: sessionText(tentative))
    let (compiled, diagnostics) = CompiledRules.build(s)
    let rendered = DiagnosticRenderer().render(diagnostics, in: s)
    guard let compiled else {
      return rendered + "error: the definition was not added; the session's rules are unchanged\n"
    }
    let summary = SessionSource.apply(
      definition, to: sessionText(definitions), rulelist: chosenRulelist
    ).summary
    definitions = tentative
    source = s
    rules = compiled
    cachedOutcomes = nil
    return rendered + summary + "\n"
  }

  func showSource() -> String {
    guard let source else { return "error: no rules yet; :load FILE or type a rule\n" }
    let lines = source.text.split(separator: "\n", omittingEmptySubsequences: false)
    let width = String(lines.count).count
    var out = "// \(source.name)\n"
    for (k, l) in lines.enumerated() where !(k == lines.count - 1 && l.isEmpty) {
      let n = String(k + 1)
      out += String(repeating: " ", count: width - n.count) + n + "  " + l + "\n"
    }
    return out
  }

  func chooseRulelist(_ name: String) -> String {
    guard let rules else { return "error: no rules loaded; :load FILE\n" }
    let lists = rules.program.rulelists.map { "\($0.name) (\($0.protocolName))" }.joined(
      separator: ", ")
    if name.isEmpty {
      return
        "rulelist: \(chosenRulelist ?? "auto (the first for each packet's protocol)"); the rulelists are \(lists)\n"
    }
    if name == "auto" {
      chosenRulelist = nil
      cachedOutcomes = nil
      return "packets go to the first rulelist for their protocol\n"
    }
    guard rules.program.rulelist(named: name) != nil else {
      return "error: no rulelist named '\(name)'; the rulelists are \(lists)\n"
    }
    chosenRulelist = name
    cachedOutcomes = nil
    return "packets go to rulelist \(name); typed rules are added to it\n"
  }

  /// The rulelist a packet of `proto` runs through.
  func rulelistIndex(for proto: RuleProtocol) -> Int? {
    guard let rules else { return nil }
    return rules.rulelist(
      for: proto, chosen: chosenRulelist.flatMap { rules.program.rulelist(named: $0) })
  }

  // MARK: captures

  func loadCapture(_ path: String) -> String {
    do {
      let c = try Capture.read(path)
      capture = c
      cachedOutcomes = nil
      selection = nil
      var out = ""
      if let damage = c.damage { out += "warning: \(damage.description)\n" }
      let decoded = c.packetCount
      out +=
        "loaded \(path): \(c.frames.count) frames (\(c.format), \(c.linkType)), \(decoded) decoded, \(c.frames.count - decoded) undecodable\n"
      if let first = c.frames.first(where: { $0.packet != nil }) {
        select(frame: first)
        out += "selected frame \(first.number): \(first.packet!.flow)\n"
      }
      return out
    } catch {
      return "error: \(error.description)\n"
    }
  }

  func outcomes() -> [FrameOutcome]? {
    guard let capture, let rules else { return nil }
    if let cachedOutcomes { return cachedOutcomes }
    let chosen = chosenRulelist.flatMap { rules.program.rulelist(named: $0) }
    let o = CaptureRun.run(capture, rules, rulelist: chosen)
    cachedOutcomes = o
    return o
  }

  func select(frame: CapturedFrame) {
    guard let p = frame.packet else { return }
    selection = Selection(frame: frame.number, protocol: p.ruleProtocol, packet: p.packet)
  }
}

/// A message for the person at the prompt, printed as `error: …`; the session goes on.
struct ReplError: Error {
  /// Lines ending in a newline.
  let text: String

  init(_ message: String) {
    text = "error: " + message + (message.hasSuffix("\n") ? "" : "\n")
  }

  init(lines: String) { text = lines }
}
