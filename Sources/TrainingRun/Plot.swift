import Foundation
import VideoIO

/// A tiny RGB canvas for line charts written as PNG: enough to look at a training run
/// without Python or a plotting library.
public struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    public init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.0
            pixels[3 * i + 1] = background.1
            pixels[3 * i + 2] = background.2
        }
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.0
        pixels[i + 1] = c.1
        pixels[i + 2] = c.2
    }

    /// A line from (x0, y0) to (x1, y1) (Bresenham), `thickness` pixels wide.
    public mutating func line(
        _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thickness: Int = 1
    ) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            for ox in 0..<thickness { for oy in 0..<thickness { set(x + ox, y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy {
                err += dy
                x += sx
            }
            if e2 <= dx {
                err += dx
                y += sy
            }
        }
    }

    /// Text in a 5×7 pixel font at `scale`; unknown characters draw as blanks.
    public mutating func text(_ string: String, x: Int, y: Int, scale: Int = 2, _ c: (UInt8, UInt8, UInt8) = (0, 0, 0))
    {
        var cx = x
        for ch in string.uppercased() {
            if let rows = Font.glyphs[ch] {
                for (r, bits) in rows.enumerated() {
                    for col in 0..<5 where bits & (0x10 >> col) != 0 {
                        for sx in 0..<scale {
                            for sy in 0..<scale { set(cx + col * scale + sx, y + r * scale + sy, c) }
                        }
                    }
                }
            }
            cx += 6 * scale
        }
    }

    public static func textWidth(_ string: String, scale: Int = 2) -> Int { string.count * 6 * scale }

    public func writePNG(to path: String) throws {
        try VideoIO.writePNG(rgb: pixels, width: width, height: height, to: path)
    }
}

/// A classic 5×7 dot-matrix font: seven rows of five bits per character.
enum Font {
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], "-": [0, 0, 0, 0x1F, 0, 0, 0], "−": [0, 0, 0, 0x1F, 0, 0, 0],
        ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0],
        "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "|": [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], "·": [0, 0, 0, 0x0C, 0x0C, 0, 0],
    ]
}

/// One panel of a chart: named series over a shared x axis.
public struct Panel {
    public struct Series {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var color: (UInt8, UInt8, UInt8)
        public init(label: String, points: [(x: Double, y: Double)], color: (UInt8, UInt8, UInt8)) {
            self.label = label
            self.points = points
            self.color = color
        }
    }
    public var title: String
    public var series: [Series]
    /// Vertical markers (stage boundaries), with labels.
    public var markers: [(x: Double, label: String)]
    /// What the x axis counts, written after its last value.
    public var xUnit: String

    public init(title: String, series: [Series], markers: [(x: Double, label: String)] = [], xUnit: String = "steps") {
        self.title = title
        self.series = series
        self.markers = markers
        self.xUnit = xUnit
    }

    /// Draws the panel into `canvas` inside the rectangle (x, y, w, h).
    public func draw(into canvas: inout Canvas, x: Int, y: Int, w: Int, h: Int, xRange: ClosedRange<Double>) {
        let left = x + 90, right = x + w - 20, top = y + 34, bottom = y + h - 30
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        var lo = ys.min() ?? 0, hi = ys.max() ?? 1
        if hi - lo < 1e-9 {
            lo -= 0.5
            hi += 0.5
        }
        let pad = (hi - lo) * 0.05
        lo -= pad
        hi += pad
        func px(_ v: Double) -> Int {
            left
                + Int((v - xRange.lowerBound) / max(xRange.upperBound - xRange.lowerBound, 1e-9) * Double(right - left))
        }
        func py(_ v: Double) -> Int { bottom - Int((v - lo) / (hi - lo) * Double(bottom - top)) }
        let grey: (UInt8, UInt8, UInt8) = (200, 200, 200)
        for i in 0...4 {  // horizontal grid + y labels
            let v = lo + (hi - lo) * Double(i) / 4
            canvas.line(left, py(v), right, py(v), grey)
            canvas.text(Self.format(v), x: x + 4, y: py(v) - 7)
        }
        canvas.line(left, top, left, bottom, (0, 0, 0))
        canvas.line(left, bottom, right, bottom, (0, 0, 0))
        canvas.text(title, x: left, y: y + 8)
        for marker in markers where xRange.contains(marker.x) {
            canvas.line(px(marker.x), top, px(marker.x), bottom, (150, 150, 230))
            canvas.text(marker.label, x: px(marker.x) + 4, y: top + 2, scale: 1, (90, 90, 200))
        }
        var legendX = right
        for s in series.reversed() where !s.label.isEmpty {
            legendX -= Canvas.textWidth(s.label) + 30
            canvas.line(legendX, y + 15, legendX + 16, y + 15, s.color, thickness: 3)
            canvas.text(s.label, x: legendX + 22, y: y + 8)
        }
        for s in series {  // in order: later series draw on top
            var previous: (Int, Int)? = nil
            for p in s.points where p.y.isFinite {
                let point = (px(p.x), py(p.y))
                if let previous { canvas.line(previous.0, previous.1, point.0, point.1, s.color, thickness: 2) }
                previous = point
            }
        }
        canvas.text(Self.formatX(xRange.lowerBound), x: left, y: bottom + 8)
        let end = Self.formatX(xRange.upperBound) + " " + xUnit
        canvas.text(end, x: right - Canvas.textWidth(end), y: bottom + 8)
    }

    /// Steps and epochs are whole numbers: step 1 reads "1", not "1.000".
    static func formatX(_ v: Double) -> String {
        v == v.rounded() ? String(format: "%.0f", v) : format(v)
    }

    static func format(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1000 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a >= 0.1 || a == 0 { return String(format: "%.3f", v) }
        return String(format: "%.1e", v)
    }
}
