import Floodgate
import Hummingbird

/// `/v1/admin`: the kill switch (`PUT /v1/admin/redis`) and a configuration reload (`POST /v1/admin/reload`, as
/// SIGHUP does). Only with a token configured (`floodgate.token`): without one these answer 403, since anyone who
/// can reach the port could otherwise switch the fleet's coordination off.
struct AdminRoutes: Sendable {
    let sidecar: Sidecar

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.put("admin/redis") { request, context in try await setRedis(request, context) }
        group.post("admin/reload") { _, _ in try await reload() }
    }

    private func requireToken() throws {
        guard sidecar.configuration.token != nil else {
            throw APIError(.forbidden, "admin_disabled", "admin endpoints need floodgate.token (FLOODGATE_TOKEN) to be set")
        }
    }

    func setRedis(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try requireToken()
        var request = request
        let body = try await request.decodeJSON(RedisSwitchRequest.self, limit: sidecar.configuration.bodyLimit)
        guard sidecar.redis != nil else {
            throw APIError(.conflict, "no_redis", "no redis.url is configured: the sidecar runs on its memory store")
        }
        sidecar.floodgate.setRedisEnabled(body.enabled)
        return try json(RedisSwitchResponse(enabled: sidecar.redisSwitch.isOn, mode: sidecar.modeName))
    }

    func reload() async throws -> Response {
        try requireToken()
        do {
            try await sidecar.reload()
        } catch let error as SidecarConfigurationError {
            throw APIError(.badRequest, "invalid_configuration", error.description)
        }
        return try json(ReloadResponse(reloaded: true, mode: sidecar.modeName))
    }
}
