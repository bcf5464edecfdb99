import CLibEdit
import CLibEditShim
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Feeds a `ReplSession` lines: from libedit at a terminal (prompt, editing, history, Tab
/// completion, Ctrl-C, Ctrl-D), or plainly from a pipe (no prompt, no editing: the same results,
/// for scripts).
public final class LineEditor {
  let session: ReplSession
  /// Where history is kept; nil: not kept.
  let historyPath: String?
  let prompt = strdup("l7mp> ")!
  let continuation = strdup("  ...> ")!

  public init(session: ReplSession, historyPath: String?) {
    self.session = session
    self.historyPath = historyPath
  }

  deinit {
    free(prompt)
    free(continuation)
  }

  /// Whether standard input and output are a terminal (editing is used only then).
  public static var isInteractive: Bool { isatty(0) != 0 && isatty(1) != 0 }

  /// Reads and runs lines until the input ends or `:quit`.
  public func run() {
    if Self.isInteractive { runEditing() } else { runPlain() }
  }

  static func write(_ s: String) {
    guard !s.isEmpty else { return }
    FileHandle.standardOutput.write(Data(s.utf8))
  }

  func runPlain() {
    while let line = readLine(strippingNewline: true) {
      if ReplSession.isQuit(line) && !session.isContinuing { break }
      Self.write(session.handle(line))
    }
    Self.write(session.finish())
  }

  func runEditing() {
    guard let el = l7mp_el_init(CommandLine.arguments.first ?? "l7mp") else {
      runPlain()
      return
    }
    let history = l7mp_history_init(1000)
    defer {
      el_end(el)
      if let history { l7mp_history_end(history) }
    }
    l7mp_el_set_client_data(el, Unmanaged.passUnretained(self).toOpaque())
    l7mp_el_set_prompt(el) { el in
      guard let editor = LineEditor.from(el) else { return nil }
      return editor.session.isContinuing ? editor.continuation : editor.prompt
    }
    l7mp_el_set_editor(el, "emacs")
    if let history {
      l7mp_el_set_history(el, history)
      if let historyPath { l7mp_history_load(history, historyPath) }
    }
    l7mp_el_add_function(el, "l7mp-complete", "complete the word before the cursor") { el, _ in
      LineEditor.from(el)?.complete(el) ?? UInt8(CC_ERROR)
    }
    l7mp_el_bind(el, "^I", "l7mp-complete")
    l7mp_catch_sigint()
    l7mp_el_set_getc(el)

    Self.write("l7mp REPL — :help lists the commands; Ctrl-D quits.\n")
    while true {
      var count: Int32 = 0
      l7mp_el_raw_mode(el)
      guard let raw = el_gets(el, &count) else {
        if l7mp_take_interrupt() != 0 || (count < 0 && errno == EINTR) {
          // Ctrl-C: drop the line (and any definition being typed), prompt again.
          session.cancelInput()
          Self.write("\n")
          continue
        }
        Self.write("\n" + session.finish())
        return
      }
      var line = String(cString: raw)
      if line.hasSuffix("\n") { line.removeLast() }
      if let history, !line.trimmingCharacters(in: .whitespaces).isEmpty {
        l7mp_history_enter(history, line)
        if let historyPath { l7mp_history_save(history, historyPath) }
      }
      if ReplSession.isQuit(line) && !session.isContinuing { return }
      Self.write(session.handle(line))
    }
  }

  static func from(_ el: OpaquePointer?) -> LineEditor? {
    guard let el, let data = l7mp_el_get_client_data(el) else { return nil }
    return Unmanaged<LineEditor>.fromOpaque(data).takeUnretainedValue()
  }

  /// Tab: inserts the one completion (and a space), or the candidates' common prefix, or lists
  /// them.
  func complete(_ el: OpaquePointer?) -> UInt8 {
    guard let el, let info = el_line(el) else { return UInt8(CC_ERROR) }
    let start = UnsafeRawPointer(info.pointee.buffer!)
    let cursor = UnsafeRawPointer(info.pointee.cursor!)
    let before = String(
      decoding: UnsafeRawBufferPointer(start: start, count: cursor - start), as: UTF8.self)
    let (word, candidates) = session.completions(before)
    if candidates.isEmpty { return UInt8(CC_REFRESH_BEEP) }
    if candidates.count == 1 {
      let only = candidates[0]
      let open = only.hasSuffix("/") || only.hasSuffix(".")
      el_insertstr(el, String(only.dropFirst(word.count)) + (open ? "" : " "))
      return UInt8(CC_REFRESH)
    }
    let common = ReplSession.commonExtension(word, candidates)
    if !common.isEmpty {
      el_insertstr(el, common)
      return UInt8(CC_REFRESH)
    }
    Self.write("\n" + Self.grid(candidates))
    return UInt8(CC_REDISPLAY)
  }

  /// Candidates in columns across an 80-column screen.
  static func grid(_ items: [String]) -> String {
    let width = (items.map(\.count).max() ?? 0) + 2
    let perLine = max(1, 80 / width)
    var out = ""
    for (k, item) in items.enumerated() {
      out += item
      if k % perLine == perLine - 1 || k == items.count - 1 {
        out += "\n"
      } else {
        out += String(repeating: " ", count: width - item.count)
      }
    }
    return out
  }
}
