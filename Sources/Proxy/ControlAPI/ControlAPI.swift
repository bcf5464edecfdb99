import Hummingbird
import Logging
import NIOCore

/// The control API: l7mp's REST interface (`/api/v1/…`), Prometheus `/metrics`, and the
/// `/healthz` and `/readyz` probes, served over HTTP/1.1 by Hummingbird. docs/api.md describes
/// every endpoint.
///
/// `l7mp run` adds `application(…)` to its service group, beside the data plane; the API only
/// translates requests into `ProxyControl` calls.
public enum ControlAPI {
  /// The server, a swift-service-lifecycle `Service`.
  public typealias Server = Application<RouterResponder<BasicRequestContext>>

  /// The request handling without a socket: what `Server` runs (tests drive it directly).
  public static func router(control: any ProxyControl, options: ControlAPIOptions, logger: Logger)
    -> Router<BasicRequestContext>
  {
    let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(
      middleware: ControlAPIErrorMiddleware(maxBodyBytes: options.maxBodyBytes, logger: logger))
    router.add(
      middleware: ControlAPIAuthMiddleware(
        token: options.token, boundToLoopback: options.isLoopback, address: options.address))
    ControlAPIRoutes<BasicRequestContext>(control: control, maxBodyBytes: options.maxBodyBytes)
      .register(on: router)
    return router
  }

  /// The server bound to `options.address:options.port`. `onRunning` is called with the bound
  /// port once it listens (the port the OS chose, when `options.port` is 0).
  public static func application(
    control: any ProxyControl, options: ControlAPIOptions, logger: Logger,
    onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
  ) -> Server {
    if options.token == nil && !options.isLoopback {
      logger.warning(
        "control API on \(options.address) without a token: reads are open to the network, writes are refused (--api-token-file)"
      )
    }
    return Application(
      router: router(control: control, options: options, logger: logger),
      server: .http1(
        configuration: .init(idleTimeout: .seconds(options.idleTimeoutSeconds))),
      configuration: ApplicationConfiguration(
        address: .hostname(options.address, port: options.port), serverName: "l7mp"),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? options.port
        logger.info("control API listening on \(options.address):\(port)")
        await onRunning(port)
      },
      logger: logger)
  }
}
