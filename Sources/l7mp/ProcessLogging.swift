import Foundation
import Logging
import Synchronization

/// The process's log level, shared by every logger made before or after it is known: logging
/// starts before the command line is parsed, and `l7mp run` learns `admin.log_level` only from
/// its configuration. `L7MP_LOG_LEVEL` in the environment wins over both.
enum ProcessLogging {
  private static let level = Mutex<Logger.Level>(.info)
  static let environmentLevel: Logger.Level? = ProcessInfo.processInfo.environment[
    "L7MP_LOG_LEVEL"
  ].flatMap { Logger.Level(rawValue: $0) }

  static var current: Logger.Level { level.withLock { $0 } }

  /// Logging to standard error at the shared level.
  static func bootstrap() {
    if let environmentLevel { level.withLock { $0 = environmentLevel } }
    LoggingSystem.bootstrap { label in
      SharedLevelHandler(stream: StreamLogHandler.standardError(label: label))
    }
  }

  /// Sets the level from a configuration (`admin.log_level`), unless `L7MP_LOG_LEVEL` is set.
  /// Returns the level in effect.
  @discardableResult
  static func configure(_ name: String) -> Logger.Level {
    guard environmentLevel == nil, let configured = Logger.Level(rawValue: name) else {
      return current
    }
    level.withLock { $0 = configured }
    return configured
  }
}

/// A stream handler whose level is the process's (`ProcessLogging`) unless set on the logger.
struct SharedLevelHandler: LogHandler {
  var stream: StreamLogHandler
  var explicitLevel: Logger.Level?

  init(stream: StreamLogHandler) { self.stream = stream }

  var logLevel: Logger.Level {
    get { explicitLevel ?? ProcessLogging.current }
    set { explicitLevel = newValue }
  }

  var metadata: Logger.Metadata {
    get { stream.metadata }
    set { stream.metadata = newValue }
  }

  var metadataProvider: Logger.MetadataProvider? {
    get { stream.metadataProvider }
    set { stream.metadataProvider = newValue }
  }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { stream[metadataKey: key] }
    set { stream[metadataKey: key] = newValue }
  }

  func log(event: LogEvent) { stream.log(event: event) }
}
