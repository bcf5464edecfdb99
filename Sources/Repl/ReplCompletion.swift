import Foundation
import RuleLang

/// Tab completion: what the word before the cursor can become.
extension ReplSession {
  /// The word being completed (from the last separator before the cursor) and the candidates
  /// that start with it, sorted. `line` is the text before the cursor.
  public func completions(_ line: String) -> (word: String, candidates: [String]) {
    let separators = Set(" \t(){}[],=!<>&|+\"")
    let word = String(line.reversed().prefix { !separators.contains($0) }.reversed())
    let before = line.dropLast(word.count)
    let firstWord = line.drop { $0 == " " }.prefix { !$0.isWhitespace }
    let completingFirst = before.allSatisfy { $0 == " " || $0 == "\t" }
    var pool: [String]
    if completingFirst && word.hasPrefix(":") {
      pool = Self.commands.map { ":" + $0.name }
    } else if !completingFirst && (firstWord == ":load" || firstWord == ":pcap") {
      return (word, Self.paths(completing: word))
    } else if !completingFirst && firstWord == ":disasm" {
      pool = ruleNames
    } else if !completingFirst && firstWord == ":rulelist" {
      pool = (rules?.program.rulelists.map(\.name) ?? []) + ["auto"]
    } else if !completingFirst && firstWord == ":set" && !before.contains("=") {
      pool = PacketEdit.paths.filter { !$0.hasSuffix("NAME") } + ["HTTP.headers.", "labels."]
    } else if !completingFirst && firstWord == ":packets" && before.split(separator: " ").count == 1
    {
      pool = ["undecodable", "rule"] + Self.languageWords
    } else if before.hasSuffix("rule ") && firstWord == ":packets" {
      pool = ruleNames
    } else {
      pool = Self.languageWords + ruleNames + constantNames
    }
    return (word, Set(pool.filter { $0.hasPrefix(word) }).sorted())
  }

  var ruleNames: [String] { rules?.program.rules.map(\.name) ?? [] }

  var constantNames: [String] { rules.map { Array($0.checked.constants.keys) } ?? [] }

  /// Keywords, functions and metadata paths (a family such as `labels.*` as `labels.`).
  static let languageWords: [String] = {
    var words = Keyword.allCases.map(\.rawValue)
    words += ["len", "lower", "defined", "u8", "u16", "u32"]
    for f in MetadataSchema.fields {
      words.append(f.isFamily ? f.path.dropLast().joined(separator: ".") + "." : f.displayPath)
    }
    return words
  }()

  /// Files and directories (with a trailing `/`) whose path starts with `word`.
  static func paths(completing word: String) -> [String] {
    let expanded = word.hasPrefix("~/") ? NSHomeDirectory() + word.dropFirst(1) : word
    let slash = expanded.lastIndex(of: "/")
    let directory = slash.map { String(expanded[...$0]) } ?? ""
    let stem = slash.map { String(expanded[expanded.index(after: $0)...]) } ?? expanded
    // Candidates keep the word's own spelling of the directory (`~/`, relative).
    let shown = word.lastIndex(of: "/").map { String(word[...$0]) } ?? ""
    let entries =
      (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory))
      ?? []
    return entries.filter { $0.hasPrefix(stem) && (stem.hasPrefix(".") || !$0.hasPrefix(".")) }
      .map { name in
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(
          atPath: directory + name, isDirectory: &isDirectory)
        return shown + name + (exists && isDirectory.boolValue ? "/" : "")
      }.sorted()
  }

  /// What Tab inserts for `word`: the longest common prefix of the candidates, past the word.
  public static func commonExtension(_ word: String, _ candidates: [String]) -> String {
    guard var prefix = candidates.first else { return "" }
    for c in candidates.dropFirst() {
      while !c.hasPrefix(prefix) { prefix.removeLast() }
    }
    return prefix.count > word.count ? String(prefix.dropFirst(word.count)) : ""
  }
}
