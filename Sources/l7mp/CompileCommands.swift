import ArgumentParser
import Foundation
import RuleLang
import VM

/// `l7mp compile FILE -o FILE.l7b`: check, compile and verify rules; write the binary program.
struct CompileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compile",
    abstract: "Compile a rule file to a verified binary program (.l7b).",
    discussion: """
      Checks the rules (as 'l7mp check' does), compiles them to bytecode, runs the verifier on the \
      result, and writes the versioned binary format. Exit status: 0 written, 1 the rules have \
      errors, 2 a file cannot be read or written.
      """
  )

  @Argument(help: "The rule file ('-' for standard input).")
  var file: String

  @Option(name: .shortAndLong, help: "Where to write the program (default: FILE with .l7b).")
  var output: String?

  func run() throws {
    let program = try ProgramLoader.compile(file)
    let bytes = ProgramCodec.encode(program)
    let path =
      output
      ?? (file == "-"
        ? "rules.l7b" : URL(fileURLWithPath: file).deletingPathExtension().path + ".l7b")
    do {
      try Data(bytes).write(to: URL(fileURLWithPath: path))
    } catch {
      Output.error("l7mp compile: cannot write '\(path)': \(error.localizedDescription)\n")
      throw ExitCode(2)
    }
    let verified = try ProgramLoader.verify(program, name: file)
    Output.error(
      "\(path): \(program.code.count) instructions, \(program.constants.count) constants, \(program.rules.count) rules; longest path \(verified.worstPath)\n"
    )
  }
}

/// `l7mp disasm FILE`: the bytecode listing of a rule file or a compiled program.
struct DisasmCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "disasm",
    abstract: "Print the bytecode listing of a .rules file or a compiled .l7b program.",
    discussion: """
      The listing shows each rulelist's code with one instruction per line (operands and the \
      constants they name), the constant pool, and the rule table. A .l7b file is decoded and \
      verified first. Exit status: 0, 1 when the rules have errors or the program is invalid, 2 \
      when a file cannot be read.
      """
  )

  @Argument(help: "A .rules file ('-' for standard input) or a .l7b program.")
  var file: String

  func run() throws {
    let program = try ProgramLoader.load(file)
    _ = try ProgramLoader.verify(program, name: file)
    Output.write(Disassembler.listing(program))
  }
}

/// Turns command-line inputs into programs, printing diagnostics the way `check` does.
enum ProgramLoader {
  /// Loads a .l7b (by its magic) or compiles rule source.
  static func load(_ path: String) throws -> Program {
    if path != "-", let data = FileManager.default.contents(atPath: path),
      data.starts(with: ProgramCodec.magic)
    {
      do {
        return try ProgramCodec.decode(Array(data))
      } catch {
        Output.error("\(path): error: \(error.description)\n")
        throw ExitCode(1)
      }
    }
    return try compile(path)
  }

  static func compile(_ path: String) throws -> Program {
    let source: SourceFile
    switch SourceReader.read(path) {
    case .success(let s): source = s
    case .failure(let e):
      Output.error("l7mp: \(e.description)\n")
      throw ExitCode(2)
    }
    let checked = RuleChecker.check(source)
    let renderer = DiagnosticRenderer(color: isatty(2) != 0)
    if !checked.diagnostics.isEmpty {
      Output.error(renderer.render(checked.diagnostics, in: source))
    }
    switch RuleCompiler.compile(checked) {
    case .success(let p): return p
    case .failure(let e):
      if !checked.hasErrors { Output.error(renderer.render(e.diagnostics, in: source)) }
      throw ExitCode(1)
    }
  }

  static func verify(_ p: Program, name: String) throws -> VerifiedProgram {
    do {
      return try Verifier.verify(p)
    } catch {
      Output.error("\(name): error: the program fails verification: \(error.description)\n")
      throw ExitCode(1)
    }
  }
}
