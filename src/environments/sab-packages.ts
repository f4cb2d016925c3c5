// ScienceAgentBench packages, as upstream's harness installs them (evaluation/harness/dockerfiles.py
// at OSU-NLP-Group/ScienceAgentBench): the program's imports, read from its syntax tree (as pipreqs
// does), become distribution names, with upstream's remaps, then pip installs them on the base.
//
// Upstream's facts carried over (our own code):
//   - base stack pins: numpy<2.0, scipy<1.14.0, matplotlib<3.8.0, torch<=2.3.0, tensorflow<=2.17.0,
//     rdkit<=2023.09.5, tf_keras<=2.17.0, httpx==0.27.2, openai==1.54.4, code_bert_score==0.4.1,
//     transformers==4.46.3 (applied here to a program that needs one of them);
//   - qsprpred: papyrus-scaffold-visualizer from git (its main branch) and kaleido, and nothing
//     else; otherwise scvi -> scvi-tools;
//   - biopsykit adds mne; oggm adds salem, tables, geopandas, and is pinned oggm<=1.6.1;
//   - scanpy adds scikit-misc and leidenalg;
//   - iris -> scitools-iris;
//   - pymatgen<=2024.5.1; a "benchmark" import is dropped;
//   - deepchem adds dgl from dgl's wheel page (torch-2.3/cu121), DeepPurpose adds descriptastorus
//     from git. These git and page URLs are fixed here, as upstream has them; a program only
//     chooses whether they apply (by importing), never what they are. They need the build to reach
//     github.com and data.dgl.ai; where it can not, the build's error is noted in the verdict's log.
// Upstream matches these by substring on the extracted list (grep -q); so does this.
//
// Only names reach the build: each module name is checked to be a Python identifier, and the
// requirements file is data pip reads, never a shell line. Modules the base image can already
// import are not requirements (upstream's base has them; so does ours), so the bundled tasks need
// no build at all.

import { normalizeProjectName } from "./requirements.js";

/** Module -> distribution, where they differ (pipreqs's mapping, the names SAB programs use). */
const DISTRIBUTIONS: Record<string, string> = {
  sklearn: "scikit-learn",
  skimage: "scikit-image",
  skbio: "scikit-bio",
  cv2: "opencv-python",
  PIL: "Pillow",
  yaml: "PyYAML",
  Bio: "biopython",
  bs4: "beautifulsoup4",
  dateutil: "python-dateutil",
  umap: "umap-learn",
  torch_geometric: "torch-geometric",
  sentence_transformers: "sentence-transformers",
  mpl_toolkits: "matplotlib",
  osgeo: "GDAL",
  Levenshtein: "python-Levenshtein",
  tf_keras: "tf-keras",
  pykrige: "PyKrige",
  cartopy: "Cartopy",
  OpenSSL: "pyOpenSSL",
  Crypto: "pycryptodome",
  attr: "attrs",
  google: "protobuf",
  jwt: "PyJWT",
  serial: "pyserial",
  dotenv: "python-dotenv",
  git: "GitPython",
  zmq: "pyzmq",
  igraph: "python-igraph",
  community: "python-louvain",
  MDAnalysis: "MDAnalysis",
};

/** Upstream's base image pins, applied to a program that needs the package. */
export const SAB_BASE_PINS: Readonly<Record<string, string>> = {
  numpy: "<2.0",
  scipy: "<1.14.0",
  matplotlib: "<3.8.0",
  torch: "<=2.3.0",
  tensorflow: "<=2.17.0",
  rdkit: "<=2023.09.5",
  "tf-keras": "<=2.17.0",
  httpx: "==0.27.2",
  openai: "==1.54.4",
  "code-bert-score": "==0.4.1",
  transformers: "==4.46.3",
};

/** Upstream's sources that are no index (config_conda_env.py): git repositories and a wheel page. */
export const SAB_GIT_AND_PAGE_SOURCES = {
  papyrusScaffoldVisualizer: "papyrus-scaffold-visualizer @ git+https://github.com/martin-sicho/papyrus-scaffold-visualizer.git@main",
  descriptastorus: "descriptastorus @ git+https://github.com/bp-kelley/descriptastorus",
  dglPage: "https://data.dgl.ai/wheels/torch-2.3/cu121/repo.html",
} as const;

export interface SabRequirements {
  /** requirements.txt text for pip ("" when nothing is needed); may hold git references and a --find-links line. */
  requirements: string;
  /** What upstream would install some other way (git, a wheel page), which no index can give. */
  notInstallable: string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The requirements for the modules a program imports that the base can not import. */
export function sabRequirementsFor(missingModules: readonly string[]): SabRequirements {
  const modules = missingModules.filter((module) => IDENTIFIER.test(module));
  let lines = [...new Set(modules.map((module) => DISTRIBUTIONS[module] ?? module))];
  const text = (): string => lines.join("\n");
  const notInstallable: string[] = [];
  if (text().includes("qsprpred")) {
    // Upstream installs these two, and returns before anything else (qsprpred itself included).
    return { requirements: `${SAB_GIT_AND_PAGE_SOURCES.papyrusScaffoldVisualizer}\nkaleido\n`, notInstallable };
  } else if (text().includes("scvi")) {
    lines = lines.filter((line) => !line.includes("scvi"));
    lines.push("scvi-tools");
  }
  if (text().includes("biopsykit")) lines.push("mne");
  if (text().includes("oggm")) lines.push("salem", "tables", "geopandas");
  if (text().includes("scanpy")) lines.push("scikit-misc", "leidenalg");
  if (text().includes("iris")) {
    lines = lines.filter((line) => !line.includes("iris"));
    lines.push("scitools-iris");
  }
  lines = lines
    .filter((line) => line !== "benchmark")
    .map((line) => (line === "pymatgen" ? "pymatgen<=2024.5.1" : line === "oggm" ? "oggm<=1.6.1" : line))
    .map((line) => {
      const pin = SAB_BASE_PINS[normalizeProjectName(line)];
      return pin !== undefined && /^[A-Za-z0-9._-]+$/.test(line) ? `${line}${pin}` : line;
    });
  if (text().includes("deepchem")) lines.push(`--find-links ${SAB_GIT_AND_PAGE_SOURCES.dglPage}`, "dgl");
  if (text().includes("DeepPurpose")) lines.push(SAB_GIT_AND_PAGE_SOURCES.descriptastorus);
  const unique = [...new Set(lines)];
  return { requirements: unique.length > 0 ? unique.join("\n") + "\n" : "", notInstallable };
}

/**
 * Python run in a network-off sandbox on the base image: the program's top-level absolute imports
 * (ast, like pipreqs), less the standard library and what the image can already import. Prints one
 * JSON object: {"missing": [...]} or {"error": "..."}.
 */
export const SAB_IMPORTS_SCRIPT = String.raw`
import ast, importlib.util, json, sys
try:
    source = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    tree = ast.parse(source)
except SyntaxError as error:
    print(json.dumps({"error": "syntax error: %s" % error}))
    sys.exit(0)
modules = set()
for node in ast.walk(tree):
    if isinstance(node, ast.Import):
        modules.update(alias.name.split(".")[0] for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        modules.add(node.module.split(".")[0])
standard = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
print(json.dumps({"missing": sorted(m for m in modules if m not in standard and m != "benchmark" and not importable(m))}))
`;
