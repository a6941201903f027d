//! The self-test's GPU paths without a GPU: the generated `init/bin/selftest` runs with a stub
//! `nvidia-smi` on `PATH` (a node's driver, brand and GPUs) and the framework's probe replaced by a
//! fake (what the framework sees and its build's architectures), and must name the cause of each
//! failure on its own `ok|FAIL` line.

mod common;

use std::process::Command;

/// A GPU image per case: on a CUDA 12.6 base (its `NVIDIA_REQUIRE_CUDA` excepts the data-center
/// branches R535 and R550), torch 2.5.1's `cu124` wheels on 12.4.
const SPEC: &str = r#"
image "torch126" {
    pytorch "2.7.1"
    python "3.11"
    cuda "12.6.3"
}
image "torch124" {
    pytorch "2.5.1"
    python "3.11"
    cuda "12.4.1"
}
"#;

/// The generated self-test of the image named `name`.
fn selftest(name: &str) -> String {
    let (files, codes) = common::generate(SPEC);
    assert!(!files.is_empty(), "the spec compiles: {codes:?}");
    files
        .iter()
        .find(|(path, _)| path.starts_with(&format!("{name}/")) && path.ends_with("init/bin/selftest"))
        .map(|(_, text)| text.clone())
        .unwrap_or_else(|| panic!("no self-test for {name}"))
}

/// A node as `nvidia-smi` shows it: the driver, the CUDA it supports, and each GPU's name,
/// compute capability and brand.
struct Node {
    driver: &'static str,
    cuda: &'static str,
    gpus: Vec<(&'static str, &'static str, &'static str)>,
}

/// What the fake framework sees: GPUs, its build's architectures, and the all-reduce's sums.
struct Framework {
    sees_gpus: bool,
    arch: &'static str,
    all_reduce: &'static str,
}

const HARNESS: &str = r#"
import importlib.machinery, importlib.util, json, os, sys

loader = importlib.machinery.SourceFileLoader("selftest", sys.argv[1])
spec = importlib.util.spec_from_loader("selftest", loader)
selftest = importlib.util.module_from_spec(spec)
loader.exec_module(selftest)
fake = json.loads(os.environ["FAKE_FRAMEWORK"])


class FakeProbe:
    def __init__(self):
        self.count = fake["gpus"]

    def version(self):
        return selftest.EXPECTED["framework"]["version"]

    def cuda_build(self):
        return selftest.EXPECTED["framework"]["cuda"]

    def gpus(self):
        return ["GPU %d" % i for i in range(self.count)]

    def cudnn_build(self):
        return "9.1.0"

    def convolution(self, gpu):
        return (2, 4, 14, 14), 27.0

    def matmul(self, gpu):
        return 64.0

    def nccl(self):
        return "2.21.5"

    def arch_list(self):
        return fake["arch"]

    def capability(self, number):
        raise RuntimeError("not reported")

    def all_reduce(self, count):
        return fake["sums"]


selftest.Probe = FakeProbe
sys.argv = ["selftest", "--no-services"] + sys.argv[2:]
sys.exit(selftest.main())
"#;

/// Runs the self-test of `name` on `node` (none: no `nvidia-smi`) with `framework`; its report.
fn run(name: &str, node: Option<&Node>, framework: &Framework, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("selftest");
    std::fs::write(&script, selftest(name)).unwrap();
    let harness = dir.path().join("harness.py");
    std::fs::write(&harness, HARNESS).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    if let Some(node) = node {
        let query: String = node
            .gpus
            .iter()
            .enumerate()
            .map(|(i, (gpu, compute, _))| format!("{i}, {gpu}, {}, {compute}\n", node.driver))
            .collect();
        let mut details = format!(
            "Driver Version                            : {}\nCUDA Version                              : {}\n",
            node.driver, node.cuda
        );
        for (_, _, brand) in &node.gpus {
            details.push_str(&format!("GPU 00000000:00:00.0\n    Product Brand                         : {brand}\n"));
        }
        let stub = format!(
            "#!/bin/sh\nif [ \"$1\" = -q ]; then cat <<'EOF'\n{details}EOF\nelse cat <<'EOF'\n{query}EOF\nfi\n"
        );
        let path = bin.join("nvidia-smi");
        std::fs::write(&path, stub).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fake = format!(
        r#"{{"gpus": {}, "arch": {}, "sums": {}}}"#,
        if framework.sees_gpus { node.map_or(0, |n| n.gpus.len()) } else { 0 },
        framework.arch,
        framework.all_reduce
    );
    let output = Command::new("python3")
        .arg(&harness)
        .arg(&script)
        .args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("FAKE_FRAMEWORK", fake)
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// The report's line of `check`.
fn line<'a>(report: &'a str, check: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_once(' ').is_some_and(|(_, rest)| rest.starts_with(&format!("{check}:"))))
        .unwrap_or_else(|| panic!("no `{check}` line in:\n{report}"))
}

const TORCH_27_CU126: &str = r#"["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]"#;
const TORCH_25_CU124: &str = r#"["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]"#;

#[test]
fn an_old_geforce_driver_fails_the_driver_check_with_its_cause() {
    let node = Node { driver: "550.127.05", cuda: "12.4", gpus: vec![("NVIDIA GeForce RTX 4090", "8.9", "GeForce")] };
    let framework = Framework { sees_gpus: false, arch: "null", all_reduce: "[]" };
    let report = run("torch126", Some(&node), &framework, &[]);
    let driver = line(&report, "driver");
    assert!(driver.starts_with("FAIL driver: driver 550.127.05 (CUDA 12.4, GeForce)"), "{driver}");
    assert!(driver.contains("needs driver 560.28.03 or newer") && driver.contains("R550 on geforce"), "{driver}");
    // Without --require-gpu too: nvidia-smi sees the GPU, torch does not.
    let gpu = line(&report, "gpu");
    assert!(gpu.starts_with("FAIL gpu: nvidia-smi lists 1 GPU(s) but torch sees none"), "{gpu}");
    assert!(report.contains("selftest: ") && report.contains(" failed: driver, gpu"), "{report}");
}

#[test]
fn a_data_center_driver_of_an_excepted_branch_runs_by_forward_compatibility() {
    let node = Node { driver: "535.183.01", cuda: "12.2", gpus: vec![("NVIDIA A100-SXM4-80GB", "8.0", "NVIDIA")] };
    let framework = Framework { sees_gpus: true, arch: TORCH_27_CU126, all_reduce: "[]" };
    let report = run("torch126", Some(&node), &framework, &["--require-gpu"]);
    let driver = line(&report, "driver");
    assert!(driver.starts_with("ok driver:") && driver.contains("forward compatibility (R535)"), "{driver}");
    let arch = line(&report, "gpu-arch");
    assert!(
        arch.starts_with("ok gpu-arch: GPU 0 NVIDIA A100-SXM4-80GB (compute capability 8.0) runs the SASS for 8.0"),
        "{arch}"
    );
    assert!(report.contains("selftest: all checks passed"), "{report}");
}

#[test]
fn a_gpu_newer_than_the_build_s_kernels_fails_the_architecture_check() {
    let node = Node { driver: "575.57.08", cuda: "12.9", gpus: vec![("NVIDIA GeForce RTX 5090", "12.0", "GeForce")] };
    let framework = Framework { sees_gpus: true, arch: TORCH_25_CU124, all_reduce: "[]" };
    let report = run("torch124", Some(&node), &framework, &[]);
    assert!(line(&report, "driver").starts_with("ok driver:"), "{report}");
    let arch = line(&report, "gpu-arch");
    assert!(
        arch.starts_with("FAIL gpu-arch: GPU 0 NVIDIA GeForce RTX 5090 (compute capability 12.0): no kernels for it"),
        "{arch}"
    );
    assert!(arch.contains("the framework's build: SASS for 5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0; PTX for none"), "{arch}");
}

#[test]
fn without_the_build_s_list_the_tables_decide() {
    // Pascal on torch 2.5.1's cu124 wheels, which carry SASS for 6.0.
    let node = Node { driver: "570.86.15", cuda: "12.8", gpus: vec![("Tesla P100-PCIE-16GB", "6.0", "Tesla")] };
    let framework = Framework { sees_gpus: true, arch: "null", all_reduce: "[]" };
    let report = run("torch124", Some(&node), &framework, &[]);
    let arch = line(&report, "gpu-arch");
    assert!(arch.starts_with("ok gpu-arch:") && arch.contains("runs the SASS for 6.0"), "{arch}");
}

#[test]
fn several_gpus_run_an_all_reduce() {
    let gpu = ("NVIDIA A100-SXM4-80GB", "8.0", "NVIDIA");
    let node = Node { driver: "570.86.15", cuda: "12.8", gpus: vec![gpu, gpu] };
    let good = Framework { sees_gpus: true, arch: TORCH_27_CU126, all_reduce: "[2.0, 2.0]" };
    let report = run("torch126", Some(&node), &good, &[]);
    assert!(line(&report, "all-reduce").starts_with("ok all-reduce: sum of ones over 2 GPUs"), "{report}");
    let broken = Framework { sees_gpus: true, arch: TORCH_27_CU126, all_reduce: "[1.0, 2.0]" };
    let report = run("torch126", Some(&node), &broken, &[]);
    assert!(line(&report, "all-reduce").starts_with("FAIL all-reduce:"), "{report}");
    let one = Node { driver: "570.86.15", cuda: "12.8", gpus: vec![gpu] };
    let report = run("torch126", Some(&one), &good, &[]);
    assert!(line(&report, "all-reduce").starts_with("skip all-reduce: 1 GPU visible"), "{report}");
}

#[test]
fn no_driver_in_the_container_is_a_skip_or_with_require_gpu_a_failure() {
    let framework = Framework { sees_gpus: false, arch: "null", all_reduce: "[]" };
    let report = run("torch126", None, &framework, &[]);
    assert!(line(&report, "driver").starts_with("skip driver: nvidia-smi finds no NVIDIA driver"), "{report}");
    let report = run("torch126", None, &framework, &["--require-gpu"]);
    assert!(line(&report, "driver").starts_with("FAIL driver:"), "{report}");
}
