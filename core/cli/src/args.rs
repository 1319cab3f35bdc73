//! Command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A bad argument value, reported with exit code 3.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::error::Error for InputError {}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tacho: trips and work time, recorded offline.
#[derive(Debug, Parser)]
#[command(name = "tacho", version, about, propagate_version = true)]
pub struct Cli {
    /// The database file [default: the platform data dir, e.g. ~/.local/share/tacho/tacho.db].
    #[arg(long, global = true, env = "TACHO_DB")]
    pub db: Option<PathBuf>,
    /// Directory of the default database (`tacho.db`), used without --db
    /// [default: $XDG_DATA_HOME/tacho, else ~/.local/share/tacho].
    #[arg(long, global = true, env = "TACHO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// IANA time zone new trips are recorded in.
    #[arg(long, global = true, env = "TACHO_TZ", default_value = "UTC")]
    pub tz: String,
    /// Grace period in minutes after a disconnect before a trip ends.
    #[arg(long, global = true, env = "TACHO_GRACE_MINUTES")]
    pub grace_minutes: Option<i64>,
    /// The name the relay lists this device under at sign-in [default: tacho-cli on <OS>].
    #[arg(long, global = true, env = "TACHO_DEVICE_NAME")]
    pub device_name: Option<String>,
    /// More logging on stderr (-v, -vv); or set TACHO_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cars and their plates.
    #[command(subcommand)]
    Car(CarCmd),
    /// Known places (home, office, clients).
    #[command(subcommand)]
    Place(PlaceCmd),
    /// Record, list, classify and edit trips.
    #[command(subcommand)]
    Trip(TripCmd),
    /// Import a GPS track file (GPX, NMEA, GeoJSON, CSV) as trips.
    Import(ImportArgs),
    /// The work timer.
    #[command(subcommand)]
    Timer(TimerCmd),
    /// Time entries.
    #[command(subcommand)]
    Entry(EntryCmd),
    /// Projects time is booked on.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Lock closed periods against edits.
    #[command(subcommand)]
    Period(PeriodCmd),
    /// Mileage log and timesheet exports.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCmd),
    /// Create an account on a relay and sign this database in.
    Signup(SignInArgs),
    /// Sign this database in to an existing relay account.
    Login(SignInArgs),
    /// Sync with the relay: once (exit code non-zero if it failed), or keep syncing.
    Sync(SyncArgs),
    /// Sign this database out of the relay (local data stays unless --forget-data).
    Logout(crate::account::LogoutArgs),
    /// The account's devices on the relay: list, rename, revoke a lost one.
    #[command(subcommand)]
    Device(crate::account::DeviceCmd),
    /// Hand a signed-in session to another device (the phone to the watch).
    #[command(subcommand)]
    Session(SessionCmd),
    /// Automation hook tokens for iPhone Shortcuts (CarPlay / Bluetooth), see docs/shortcuts.md.
    #[command(subcommand)]
    Hook(crate::hooks::HookCmd),
    /// Timesheet connections (Toggl Track, Tempo, Kimai, Zammad), see docs/connectors.md.
    #[command(subcommand)]
    Connector(crate::connectors::ConnectorCmd),
    /// Conflicts between Tacho and a connected service, and their resolution.
    #[command(subcommand)]
    Conflict(crate::connectors::ConflictCmd),
}

/// `tacho session …`
#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Mint a session for another device of this account; prints it as JSON.
    Mint {
        /// The other device's id (`tacho db info` on that device).
        #[arg(long)]
        device: String,
        /// A name for it.
        #[arg(long, default_value = "watch")]
        name: String,
    },
    /// Sign this device in with a minted session (a JSON file, or - for stdin).
    Adopt {
        /// The file written by `session mint`.
        file: PathBuf,
    },
}

/// `tacho signup|login`
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// Relay base URL, e.g. http://127.0.0.1:8787.
    #[arg(long, env = "TACHO_RELAY")]
    pub relay: String,
    /// Account email (password sign-in; the password comes from TACHO_PASSWORD or a prompt).
    #[arg(long, required_unless_present = "oidc", conflicts_with = "oidc")]
    pub email: Option<String>,
    /// Sign in with this OpenID provider of the relay instead (an id from the relay's
    /// capabilities, e.g. google): prints a URL to open in a browser and waits on
    /// http://127.0.0.1:<port>/callback for the answer. A first sign-in creates the account.
    #[arg(long, value_name = "PROVIDER")]
    pub oidc: Option<String>,
    /// With --oidc: also open the URL with the system's opener (xdg-open, open, rundll32).
    #[arg(long, requires = "oidc")]
    pub open: bool,
    /// With --oidc: how long to wait for the browser, in seconds.
    #[arg(long, requires = "oidc", default_value_t = 300)]
    pub timeout_s: u64,
}

/// `tacho sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep syncing: long-poll the relay and push new changes until stopped.
    #[arg(long)]
    pub watch: bool,
    /// Show the sign-in state, the queue and parked ops instead of syncing.
    #[arg(long, conflicts_with = "watch")]
    pub status: bool,
}

/// `tacho car …`
#[derive(Debug, Subcommand)]
pub enum CarCmd {
    /// Add a car.
    Add {
        /// Short name, e.g. "Golf".
        #[arg(long)]
        name: String,
        /// Licence plate.
        #[arg(long)]
        plate: String,
        /// Manufacturer.
        #[arg(long)]
        make: Option<String>,
        /// Model / type.
        #[arg(long)]
        model: Option<String>,
        /// First day available (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last day available (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Bluetooth / CarPlay name that identifies the car.
        #[arg(long)]
        hint: Option<String>,
    },
    /// List cars (retired ones with --all).
    List {
        /// Also list retired cars.
        #[arg(long)]
        all: bool,
    },
    /// Change a car's name, plate, make, model, availability or hint.
    Edit(crate::edit::CarEditArgs),
    /// Retire a car (sold, returned): its trips stay, no new trips are recorded in it.
    Retire {
        /// Car id, name or plate.
        car: String,
        /// Take it back into use.
        #[arg(long)]
        undo: bool,
    },
    /// Delete a car no trip or odometer reading refers to (else retire it).
    Delete {
        /// Car id, name or plate.
        car: String,
    },
    /// Bring a deleted car back.
    Restore {
        /// Car id, name or plate.
        car: String,
    },
}

/// Kinds of place.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlaceKindArg {
    /// Home.
    Home,
    /// Regular workplace.
    Office,
    /// A client (business partner).
    Client,
    /// Anything else.
    Other,
}

/// `tacho place …`
#[derive(Debug, Subcommand)]
pub enum PlaceCmd {
    /// Add a place.
    Add {
        /// Name (for clients: the business partner).
        #[arg(long)]
        name: String,
        /// Role in classification.
        #[arg(long, value_enum)]
        kind: PlaceKindArg,
        /// Latitude of the centre.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude of the centre.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Radius in metres.
        #[arg(long, default_value_t = 150.0)]
        radius: f64,
        /// Street address.
        #[arg(long)]
        address: Option<String>,
    },
    /// List places (deleted ones with --all).
    List {
        /// Also list deleted places.
        #[arg(long)]
        all: bool,
    },
    /// Change a place's name, kind, position, radius or address.
    Edit(crate::edit::PlaceEditArgs),
    /// Delete a place (trips already classified keep their purpose).
    Delete {
        /// Place name or id.
        place: String,
    },
    /// Bring a deleted place back.
    Restore {
        /// Place name or id.
        place: String,
    },
}

/// Connect sources a person or script can name.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    /// Started by hand.
    Manual,
    /// CarPlay connected.
    Carplay,
    /// Car Bluetooth connected.
    Bluetooth,
    /// An automation hook.
    Hook,
}

/// Editable trip fields.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FieldArg {
    /// business / private / commute.
    Purpose,
    /// Business partner.
    Partner,
    /// Note (e.g. why the route deviated).
    Note,
    /// Start address.
    StartAddress,
    /// End address.
    EndAddress,
    /// Car (id, name or plate).
    Car,
}

/// `tacho trip …`
#[derive(Debug, Subcommand)]
pub enum TripCmd {
    /// Start (or, within the grace period, continue) a trip.
    Start {
        /// What started it.
        #[arg(long, value_enum, default_value = "manual")]
        source: SourceArg,
        /// Car hint, e.g. the Bluetooth device name, or a car name/plate.
        #[arg(long)]
        car: Option<String>,
    },
    /// Record one GPS fix.
    Ping {
        /// Latitude.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// When the fix was taken [default: now].
        #[arg(long)]
        time: Option<String>,
        /// Accuracy radius in metres.
        #[arg(long, allow_hyphen_values = true)]
        accuracy: Option<f64>,
        /// Speed in m/s.
        #[arg(long)]
        speed: Option<f64>,
        /// Heading in degrees.
        #[arg(long)]
        heading: Option<f64>,
        /// Altitude in metres.
        #[arg(long, allow_hyphen_values = true)]
        altitude: Option<f64>,
    },
    /// End the trip now, or with --grace after the grace period (a disconnect).
    End {
        /// Treat as a disconnect: a `trip start` within the grace period continues the trip.
        #[arg(long)]
        grace: bool,
    },
    /// Let time pass: close trips whose grace period or recovery time ran out.
    Tick,
    /// List trips.
    List {
        /// From this date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Before this date (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Only this car.
        #[arg(long)]
        car: Option<String>,
        /// Only the newest N.
        #[arg(long)]
        limit: Option<usize>,
        /// Include trips that don't count (discarded, merged or split into others), flagged.
        #[arg(long)]
        all: bool,
    },
    /// Show one trip with its odometer readings and edit history.
    Show {
        /// Trip id or unique prefix.
        id: String,
        /// Also list the GPS points.
        #[arg(long)]
        points: bool,
    },
    /// Set a trip's purpose (the person's choice always wins).
    Classify {
        /// Trip id or prefix.
        id: String,
        /// business, private or commute.
        purpose: String,
        /// Business partner.
        #[arg(long)]
        partner: Option<String>,
    },
    /// Change one field; changes to ended trips are kept in the history.
    Edit {
        /// Trip id or prefix.
        id: String,
        /// Which field.
        #[arg(long, value_enum)]
        field: FieldArg,
        /// New value (omit with --clear).
        #[arg(long, required_unless_present = "clear")]
        value: Option<String>,
        /// Clear the field.
        #[arg(long)]
        clear: bool,
    },
    /// Record odometer readings (km) at the start and/or end of a trip.
    Odometer {
        /// Trip id or prefix.
        id: String,
        /// Reading at the start, km.
        #[arg(long)]
        start: Option<f64>,
        /// Reading at the end, km.
        #[arg(long)]
        end: Option<f64>,
    },
    /// Discard a trip: it stays in its history and in `trip list --all`, out of totals
    /// and reports, until restored.
    Discard {
        /// Trip id or prefix.
        id: String,
    },
    /// Bring a discarded trip back into totals.
    Restore {
        /// Trip id or prefix.
        id: String,
    },
    /// Merge two consecutive trips of the same car into one; the originals stay, as
    /// merged-into, out of totals.
    Merge {
        /// One trip (id or prefix).
        first: String,
        /// The other trip (id or prefix); the order does not matter.
        second: String,
    },
    /// Split a trip in two at a time or at its longest stop; the trip stays, as split-into,
    /// out of totals.
    Split {
        /// Trip id or prefix.
        id: String,
        /// Where to cut: fixes before this time go to the first part (RFC 3339 or
        /// `YYYY-MM-DD HH:MM[:SS]`, UTC).
        #[arg(
            long,
            required_unless_present = "at_longest_stop",
            conflicts_with = "at_longest_stop"
        )]
        at: Option<String>,
        /// Cut at the trip's longest stop (the longest stretch standing still, at least a minute).
        #[arg(long)]
        at_longest_stop: bool,
    },
}

/// `tacho import FILE`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file.
    pub file: PathBuf,
    /// Force the format (gpx, nmea, geojson, csv) instead of detecting it.
    #[arg(long)]
    pub format: Option<String>,
    /// The car driven (id, name or plate).
    #[arg(long)]
    pub car: Option<String>,
    /// Import even if the track overlaps stored trips.
    #[arg(long)]
    pub allow_overlap: bool,
}

/// `tacho timer …`
#[derive(Debug, Subcommand)]
pub enum TimerCmd {
    /// Start a timer (stops a running one: a switch).
    Start {
        /// Project name or id.
        project: Option<String>,
        /// What you are doing.
        #[arg(short, long, default_value = "")]
        description: String,
        /// Tags (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Stop the running timer.
    Stop,
    /// Show the running timer and today's hours.
    Status,
}

/// `tacho entry …`
#[derive(Debug, Subcommand)]
pub enum EntryCmd {
    /// Add a finished entry.
    Add {
        /// Project name or id.
        #[arg(long)]
        project: Option<String>,
        /// Start time.
        #[arg(long)]
        start: Option<String>,
        /// Stop time.
        #[arg(long)]
        stop: Option<String>,
        /// What was done.
        #[arg(short, long, default_value = "")]
        description: String,
        /// Tags (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Travel time for this trip (times default to the trip's).
        #[arg(long)]
        trip: Option<String>,
        /// Billable (default: the project's setting).
        #[arg(long)]
        billable: Option<bool>,
    },
    /// List entries (overlaps flagged).
    List {
        /// From this date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Before this date (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
    },
    /// Show one entry with its edit history (deleted ones too).
    Show {
        /// Entry id or the 8-character tail `entry list` shows.
        id: String,
    },
    /// Change an entry; every change is kept in its history.
    Edit(crate::edit::EntryEditArgs),
    /// Delete an entry (`entry restore` brings it back).
    Delete {
        /// Entry id or tail.
        id: String,
    },
    /// Bring a deleted entry back.
    Restore {
        /// Entry id or tail.
        id: String,
    },
    /// Import time entries from another tracker's export: all rows or none; importing the
    /// same file again changes nothing (docs/import.md).
    Import(EntryImportArgs),
}

/// `tacho entry import FILE`
#[derive(Debug, Args)]
pub struct EntryImportArgs {
    /// The export: Toggl detailed CSV, Kimai CSV or XLSX, Clockify detailed CSV, or the
    /// generic CSV `start,stop,project,description,tags,billable`.
    pub file: PathBuf,
    /// The export's format: toggl, kimai, clockify or generic [default: detected from the
    /// header].
    #[arg(long)]
    pub format: Option<String>,
    /// IANA time zone the file's wall times are in (times with an offset keep theirs)
    /// [default: --tz / TACHO_TZ].
    #[arg(long)]
    pub timezone: Option<String>,
    /// Check the whole file against the database and report, storing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `tacho project …`
#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Add a project.
    Add {
        /// Name.
        name: String,
        /// Client.
        #[arg(long)]
        client: Option<String>,
        /// Entries are billable by default.
        #[arg(long)]
        billable: bool,
        /// Rounding in views and reports: none, up:N, down:N, nearest:N (minutes).
        #[arg(long, default_value = "none")]
        rounding: String,
    },
    /// List projects (archived ones with --all).
    List {
        /// Also list archived projects.
        #[arg(long)]
        all: bool,
    },
    /// Change a project's name, client, billable default or rounding.
    Edit(crate::edit::ProjectEditArgs),
    /// Archive a project: its entries stay, no new time can be booked on it.
    Archive {
        /// Project name or id.
        project: String,
        /// Unarchive it instead.
        #[arg(long)]
        undo: bool,
    },
    /// Take an archived project back into use.
    Unarchive {
        /// Project name or id.
        project: String,
    },
    /// Delete a project no entry uses (else archive it).
    Delete {
        /// Project name or id.
        project: String,
    },
    /// Bring a deleted project back.
    Restore {
        /// Project name or id.
        project: String,
    },
}

/// `tacho period …`
#[derive(Debug, Subcommand)]
pub enum PeriodCmd {
    /// Lock a month (YYYY-MM) against edits.
    Lock {
        /// The month.
        month: String,
    },
    /// List locked months.
    List,
}

/// Report file formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values.
    Csv,
    /// Excel workbook.
    Xlsx,
    /// JSON.
    Json,
}

/// `tacho report …`
#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Mileage log of one car for a period.
    Mileage {
        /// Car id, name or plate.
        #[arg(long)]
        car: String,
        /// Period: YYYY-MM, YYYY, or FROM..TO dates.
        #[arg(long)]
        period: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Timesheet for a period with raw and rounded hours.
    Hours {
        /// Period: YYYY-MM, YYYY, or FROM..TO dates.
        #[arg(long)]
        period: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// `tacho db …`
#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Run SQLite's full integrity check.
    Check,
    /// Show the database path, device id and outbox size.
    Info,
}

impl From<FormatArg> for tacho_core::report::ReportFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Self::Csv,
            FormatArg::Xlsx => Self::Xlsx,
            FormatArg::Json => Self::Json,
        }
    }
}
