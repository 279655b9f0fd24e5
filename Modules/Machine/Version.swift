/// Backplane's release: `backplane --version` prints it and snapshots record it (a snapshot
/// loads only into the release that wrote it, since device state is saved field by field as
/// that release models each device).
public enum BackplaneVersion {
    public static let string = "0.13.0"
}
