import ArgumentParser
import Foundation
import RuleLang

/// `l7mp check FILE…`: parse and type-check rule files, print diagnostics.
struct CheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Check rule files and print their diagnostics.",
    discussion: """
      Parses and type-checks each .rules file: syntax, names, types, the metadata each protocol \
      has, route options, 'apply' cycles; warns about rules that can never match and other likely \
      mistakes. Use '-' to read standard input.

      Exit status: 0 when no file has errors (warnings alone are fine unless \
      --warnings-as-errors), 1 when any has, 2 when a file cannot be read or the arguments are wrong.
      """
  )

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case text, json
  }

  enum ColorMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
  }

  @Argument(help: "Rule files to check ('-' for standard input).")
  var files: [String]

  @Option(help: "Output format: 'text' for people, 'json' for editors and CI.")
  var format: Format = .text

  @Flag(help: "Exit with status 1 when there are warnings, too.")
  var warningsAsErrors = false

  @Option(help: "Colour diagnostics: auto (when standard error is a terminal), always, never.")
  var color: ColorMode = .auto

  @Flag(name: .shortAndLong, help: "Print nothing for clean files; only diagnostics.")
  var quiet = false

  func validate() throws {
    if files.isEmpty {
      throw ValidationError("give at least one rule file, e.g. l7mp check gateway.rules")
    }
  }

  func run() throws {
    var results: [CheckedFile] = []
    var unreadable = false
    for path in files {
      switch SourceReader.read(path) {
      case .success(let source): results.append(RuleChecker.check(source))
      case .failure(let e):
        unreadable = true
        Output.error("l7mp check: \(e.description)\n")
      }
    }
    let errors = results.reduce(0) { $0 + $1.diagnostics.count { $0.severity == .error } }
    let warnings = results.reduce(0) { $0 + $1.diagnostics.count { $0.severity == .warning } }
    switch format {
    case .json:
      Output.write(DiagnosticJSON.render(results.map { ($0.source, $0.diagnostics) }))
    case .text:
      let useColor = color == .always || (color == .auto && isatty(2) != 0)
      let renderer = DiagnosticRenderer(color: useColor)
      for r in results where !r.diagnostics.isEmpty {
        Output.error(renderer.render(r.diagnostics, in: r.source))
        if r.omittedDiagnostics > 0 {
          Output.error("\(r.source.name): \(r.omittedDiagnostics) more diagnostics not shown\n")
        }
      }
      if !quiet {
        let summary = results.count == 1 ? results[0].source.name : "\(results.count) files"
        Output.error(
          "\(summary): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n"
        )
      }
    }
    if unreadable { throw ExitCode(2) }
    if errors > 0 || (warningsAsErrors && warnings > 0) { throw ExitCode(1) }
  }
}

/// Reads rule sources from files or standard input.
enum SourceReader {
  struct ReadError: Error, CustomStringConvertible {
    let description: String
  }

  static func read(_ path: String) -> Result<SourceFile, ReadError> {
    let data: Data
    if path == "-" {
      data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        return .failure(ReadError(description: "cannot read '\(path)': no such file"))
      }
      if isDirectory.boolValue {
        return .failure(ReadError(description: "cannot read '\(path)': it is a directory"))
      }
      guard let d = FileManager.default.contents(atPath: path) else {
        return .failure(
          ReadError(description: "cannot read '\(path)': permission denied or I/O error"))
      }
      data = d
    }
    let limit = 64 << 20
    if data.count > limit {
      return .failure(
        ReadError(
          description: "'\(path)' is \(data.count) bytes; rule files are limited to \(limit) bytes")
      )
    }
    return .success(
      SourceFile(name: path == "-" ? "<stdin>" : path, text: String(decoding: data, as: UTF8.self)))
  }
}

/// Unbuffered writes to standard output and standard error.
enum Output {
  static func write(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }
  static func error(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
