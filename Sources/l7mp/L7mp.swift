import ArgumentParser
import Foundation
import Logging

/// The `l7mp` command: one executable, one subcommand per job.
struct L7mp: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "l7mp",
    abstract: "A Kubernetes-native L7 proxy for datagram traffic, with typed per-packet rules.",
    discussion: """
      Routing rules are written in a small typed language (.rules files), checked, compiled to \
      verified bytecode and run for every packet.

      Exit codes: 0 success; 1 findings (diagnostics with errors, failed expectations); \
      2 usage or I/O errors.

      Language reference: grammar/rules.ebnf and docs/language.md.
      """,
    version: "0.1.0",
    subcommands: [
      CheckCommand.self, CompileCommand.self, DisasmCommand.self, EvalCommand.self,
      TestCommand.self, ReplCommand.self, RunCommand.self, EchoCommand.self, CRDCommand.self,
      BridgeCommand.self,
    ]
  )

  /// Exit codes: 64 (ArgumentParser's usage error) is mapped to 2 as documented.
  /// Long-running subcommands (`run`, `echo`, `bridge`, `repl`) are `AsyncParsableCommand`s.
  static func mainWithExitCodes() async -> Never {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel =
        ProcessInfo.processInfo.environment["L7MP_LOG_LEVEL"].flatMap {
          Logger.Level(rawValue: $0)
        } ?? .info
      return handler
    }
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
      Foundation.exit(0)
    } catch let exit as ExitCode {
      Foundation.exit(exit.rawValue)
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        FileHandle.standardOutput.write(Data((message + "\n").utf8))
        Foundation.exit(0)
      }
      FileHandle.standardError.write(Data((message + "\n").utf8))
      Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
    }
  }
}

/// Terminates with the usage exit code (2) after a message naming what was wrong.
struct UsageError: Error, CustomStringConvertible {
  let description: String
}
