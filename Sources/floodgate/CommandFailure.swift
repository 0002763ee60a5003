import ArgumentParser

#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Says why a command cannot run (on standard error, after `floodgate: `) and ends it with exit status 1.
func commandFailure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("floodgate: \(message)\n".utf8))
    return ExitCode.failure
}
