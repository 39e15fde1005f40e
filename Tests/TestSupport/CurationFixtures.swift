/// Videos for the curation tests, made with the ffmpeg CLI.
public enum CurationFixtures {
    /// 3 s of one synthetic source, a hard cut, 3 s of another (25 fps, 320×240).
    public static func cut(in folder: String, name: String = "cut.mp4") throws -> String {
        let path = folder + "/" + name
        try runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
                "-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25",
                "-filter_complex", "[1]trim=duration=3,setpts=PTS-STARTPTS[b];[0][b]concat=n=2:v=1[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
        return path
    }

    /// ~3 s moving, 3 s frozen on one frame, 3 s black (25 fps, 320×240).
    public static func dead(in folder: String, name: String = "dead.mp4") throws -> String {
        let path = folder + "/" + name
        try runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.04",
                "-f", "lavfi", "-i", "color=c=black:size=320x240:rate=25:duration=3",
                "-filter_complex",
                "[1]loop=loop=74:size=1:start=0,setpts=N/25/TB[f];[0][f][2]concat=n=3:v=1[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
        return path
    }

    /// `source` re-encoded at `size` (W:H) and a low bitrate: the same footage, re-uploaded.
    public static func reencoded(_ source: String, to path: String, size: String = "224:168") throws -> String {
        try runTool(
            "ffmpeg",
            ["-v", "error", "-y", "-i", source, "-vf", "scale=\(size)", "-b:v", "120k", "-c:v", "libx264", path])
        return path
    }
}
