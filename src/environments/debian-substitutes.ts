// The fallback a user may allow (--allow-debian-substitutes) when no package index answers: a
// Python requirement becomes Debian's python3-<name>. Debian has one version of each package, so
// pins are not honoured; every substitution is listed in the result as a warning.

import { normalizeProjectName, type Requirement } from "./requirements.js";

/** PyPI names whose Debian package is not python3-<name>. */
const DEBIAN_NAMES: Record<string, string> = {
  "scikit-learn": "python3-sklearn",
  sklearn: "python3-sklearn",
  "scikit-image": "python3-skimage",
  beautifulsoup4: "python3-bs4",
  pyyaml: "python3-yaml",
  pillow: "python3-pil",
  "opencv-python": "python3-opencv",
  "opencv-python-headless": "python3-opencv",
  "python-dateutil": "python3-dateutil",
  attrs: "python3-attr",
  pyzmq: "python3-zmq",
  "psycopg2-binary": "python3-psycopg2",
  pytz: "python3-tz",
  pyjwt: "python3-jwt",
  "python-dotenv": "python3-dotenv",
  pyopenssl: "python3-openssl",
  gitpython: "python3-git",
  "websocket-client": "python3-websocket",
  pyserial: "python3-serial",
  pyusb: "python3-usb",
  "python-magic": "python3-magic",
  protobuf: "python3-protobuf",
  "msgpack-python": "python3-msgpack",
  pycryptodomex: "python3-pycryptodome",
  tables: "python3-tables",
  llvmlite: "python3-llvmlite",
  "typing-extensions": "python3-typing-extensions",
};

/** Requirements that Python 3 already has in its standard library: nothing to install. */
const STANDARD_LIBRARY = new Set(["argparse", "dataclasses", "typing", "enum34", "pathlib", "futures", "importlib", "asyncio", "unittest2"]);

/** The Debian package for a PyPI project name. */
export function debianPackageFor(name: string): string {
  const normalized = normalizeProjectName(name);
  return DEBIAN_NAMES[normalized] ?? `python3-${normalized}`;
}

export interface DebianSubstitution {
  requirement: string;
  /** null: part of the standard library, nothing installed. */
  debianPackage: string | null;
}

export function debianSubstitutions(requirements: readonly Requirement[]): DebianSubstitution[] {
  return requirements.map((requirement) => ({
    requirement: requirement.line,
    debianPackage: STANDARD_LIBRARY.has(requirement.name) ? null : debianPackageFor(requirement.name),
  }));
}

/** One line per substitution, for the result's warnings. */
export function describeSubstitution(substitution: DebianSubstitution): string {
  return substitution.debianPackage === null
    ? `Debian substitute: "${substitution.requirement}" skipped (part of Python's standard library)`
    : `Debian substitute: "${substitution.requirement}" installed as ${substitution.debianPackage} (Debian's version; a pin is not honoured)`;
}
