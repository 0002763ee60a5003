// `import Floodgate` is all an app needs: the engine's types (keys, policies, limits, breakers, configuration,
// errors) and the command budget come with it.
@_exported import FloodgateBudget
@_exported import FloodgateCore
