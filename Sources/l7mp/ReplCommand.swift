import ArgumentParser
import Foundation
import Repl

/// `l7mp repl [RULES] [--pcap FILE]`: an interactive prompt to try rules on captured packets.
struct ReplCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "repl",
    abstract: "Try rules interactively on captured and synthetic packets.",
    discussion: """
      At a terminal: line editing, history, Tab completion (commands, keywords, metadata paths, \
      rule names, files), multi-line definitions, Ctrl-C cancels the input, Ctrl-D quits. With \
      piped input: no prompt and no editing, the same output, so sessions can be scripted.

      Commands: :load FILE, :reload, :pcap FILE, :packets [FILTER], :packet N, :run, :trace [N], \
      :disasm [RULE], :type EXPR, :set PATH = VALUE, :rulelist [NAME], :source, :help, :quit. \
      A bare expression is evaluated on the selected packet; a packet literal selects that \
      packet; 'rule …', 'rulelist …' and 'const …' define or replace them in the session. \
      docs/repl.md has the details.

      History is kept in ~/.l7mp_history, or in --history FILE, or in $L7MP_HISTORY; an empty \
      name keeps none.
      """
  )

  @Argument(help: "A .rules file to load first.")
  var rules: String?

  @Option(help: ArgumentHelp("A pcap or pcapng capture to load first.", valueName: "file"))
  var pcap: String?

  @Option(
    help: ArgumentHelp(
      "Where to keep the history (default: $L7MP_HISTORY, else ~/.l7mp_history; '' keeps none).",
      valueName: "file"))
  var history: String?

  func run() throws {
    let session = ReplSession()
    if let rules { Output.write(session.handle(":load " + rules)) }
    if let pcap { Output.write(session.handle(":pcap " + pcap)) }
    let path =
      history ?? ProcessInfo.processInfo.environment["L7MP_HISTORY"]
      ?? (NSHomeDirectory() + "/.l7mp_history")
    LineEditor(session: session, historyPath: path.isEmpty ? nil : path).run()
  }
}
