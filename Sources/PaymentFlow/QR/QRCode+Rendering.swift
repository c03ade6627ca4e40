/// Pictures of a QR code: SVG for web pages, PNG for anything that wants pixels.
///
/// Both draw dark modules black on white, `moduleSize` pixels to a module, with a light margin
/// of `quietZone` modules on every side. Readers need that margin to find the finder patterns:
/// the standard asks for 4 modules, the default here; less may not scan on a dark background.
extension QRCode {
    /// An SVG document of the symbol: a white background and one `<path>` holding every dark
    /// module, horizontal runs merged. The `viewBox` counts modules (symbol and quiet zone);
    /// `width` and `height` are in pixels. `shape-rendering="crispEdges"` stops anti-aliasing
    /// from blurring the modules' edges into grey seams when the image is scaled.
    /// `moduleSize` must be at least 1 and `quietZone` at least 0.
    public func svg(moduleSize: Int = 8, quietZone: Int = 4) -> String {
        precondition(moduleSize >= 1 && quietZone >= 0, "moduleSize must be at least 1 and quietZone at least 0")
        let side = size + 2 * quietZone
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard self[x, y] else {
                    x += 1
                    continue
                }
                var end = x + 1
                while end < size && self[end, y] { end += 1 }
                path += "M\(x + quietZone),\(y + quietZone)h\(end - x)v1h-\(end - x)z"
                x = end
            }
        }
        let pixels = side * moduleSize
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(pixels)" height="\(pixels)" viewBox="0 0 \(side) \(side)" shape-rendering="crispEdges">
            <rect width="\(side)" height="\(side)" fill="#fff"/>
            <path d="\(path)" fill="#000"/>
            </svg>

            """
    }

    /// A PNG file of the symbol (1-bit grayscale, see ``PNGImage``), `(size + 2·quietZone)·moduleSize`
    /// pixels square. `moduleSize` must be at least 1 and `quietZone` at least 0.
    public func png(moduleSize: Int = 8, quietZone: Int = 4) -> [UInt8] {
        precondition(moduleSize >= 1 && quietZone >= 0, "moduleSize must be at least 1 and quietZone at least 0")
        let pixels = (size + 2 * quietZone) * moduleSize
        var image = PNGImage(width: pixels)
        for y in -quietZone..<size + quietZone {
            // The subscript answers "light" outside the symbol, which draws the quiet zone.
            let row = (0..<pixels).map { self[$0 / moduleSize - quietZone, y] }
            image.appendRow(black: row, times: moduleSize)
        }
        return image.encoded()
    }
}
