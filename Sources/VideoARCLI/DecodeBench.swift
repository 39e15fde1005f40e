import ArgumentParser
struct DecodeBench: ParsableCommand { static let configuration = CommandConfiguration(commandName: "decode") }
