// The command lines of workloads and miners, as exact vectors: a reader checks each against the
// podman, bwrap and miner documentation.
#include "agent/workload.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

namespace rigshift::agent {
namespace {

using Argv = std::vector<std::string>;
using Env = std::vector<std::pair<std::string, std::string>>;

WorkloadLimits TwoGpus() {
  WorkloadLimits l;
  l.gpu_indices = {2, 3};
  l.cpus = 2.5;
  l.memory_mib = 4096;
  l.pids = 256;
  l.network = "none";
  l.lease_id = "l-42";
  return l;
}

TEST(GpuEnv, IndicesWhenNoUuids) {
  auto env = GpuEnv(TwoGpus());
  ASSERT_TRUE(env) << env.error().ToString();
  EXPECT_EQ(*env, (Env{{"CUDA_VISIBLE_DEVICES", "2,3"}, {"NVIDIA_VISIBLE_DEVICES", "2,3"},
                       {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}));
}

TEST(GpuEnv, UuidsWhenKnown) {
  WorkloadLimits l = TwoGpus();
  l.gpu_uuids = {"GPU-aaaa", "GPU-bbbb"};
  auto env = GpuEnv(l);
  ASSERT_TRUE(env);
  EXPECT_EQ((*env)[0], (std::pair<std::string, std::string>{"CUDA_VISIBLE_DEVICES", "GPU-aaaa,GPU-bbbb"}));
  EXPECT_EQ((*env)[1], (std::pair<std::string, std::string>{"NVIDIA_VISIBLE_DEVICES", "GPU-aaaa,GPU-bbbb"}));
}

TEST(GpuEnv, NoGpusHidesThemAll) {
  WorkloadLimits l;
  auto env = GpuEnv(l);
  ASSERT_TRUE(env);
  EXPECT_EQ((*env)[0].second, "");
  EXPECT_EQ((*env)[1].second, "void");
}

TEST(GpuEnv, CountsMustAgree) {
  WorkloadLimits l = TwoGpus();
  l.gpu_uuids = {"GPU-aaaa"};
  auto env = GpuEnv(l);
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().message(), "workload: 2 GPU indices but 1 UUIDs");
}

TEST(ContainerLaunch, PodmanRunWithLimitsAndTheLeaseGpus) {
  WorkloadSpec spec{"localhost/trainer:1", {"python", "train.py"}, {{"EPOCHS", "3"}, {"CUDA_VISIBLE_DEVICES", "0"}}};
  ContainerOptions options;
  options.containers_conf = "/var/lib/rigshift/containers.conf";
  auto launch = ContainerLaunch(spec, TwoGpus(), options);
  ASSERT_TRUE(launch) << launch.error().ToString();
  EXPECT_EQ(launch->argv, (Argv{"podman", "run", "--rm", "--name", "rigshift-lease-l-42", "--network", "none",
                                "--cpus", "2.5", "--memory", "4096m", "--pids-limit", "256",
                                "-e", "EPOCHS=3",  // the workload's CUDA_VISIBLE_DEVICES=0 is dropped
                                "-e", "CUDA_VISIBLE_DEVICES=2,3", "-e", "NVIDIA_VISIBLE_DEVICES=2,3",
                                "-e", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "localhost/trainer:1", "python", "train.py"}));
  EXPECT_EQ(launch->env, (Env{{"CONTAINERS_CONF", "/var/lib/rigshift/containers.conf"}}));
  EXPECT_FALSE(launch->ignore_sigterm);
  EXPECT_EQ(launch->warning, "");
}

TEST(ContainerLaunch, CdiDevicesAndInitHostNetworkNoLimits) {
  WorkloadLimits l;
  l.gpu_indices = {0, 5};
  l.gpu_uuids = {"GPU-0f0f", "GPU-5a5a"};
  l.network = "host";
  l.lease_id = "abc";
  ContainerOptions options;
  options.podman = "/usr/bin/podman";
  options.cdi = true;
  options.init = true;
  options.labels = {{"rigshift.node", "gpu-1"}};
  auto launch = ContainerLaunch(WorkloadSpec{"img", {}, {}}, l, options);
  ASSERT_TRUE(launch) << launch.error().ToString();
  EXPECT_EQ(launch->argv, (Argv{"/usr/bin/podman", "run", "--rm", "--name", "rigshift-lease-abc", "--network", "host",
                                "--init", "--label", "rigshift.node=gpu-1", "-e", "CUDA_VISIBLE_DEVICES=GPU-0f0f,GPU-5a5a", "-e",
                                "NVIDIA_VISIBLE_DEVICES=GPU-0f0f,GPU-5a5a", "-e", "CUDA_DEVICE_ORDER=PCI_BUS_ID",
                                "--device", "nvidia.com/gpu=GPU-0f0f", "--device", "nvidia.com/gpu=GPU-5a5a", "img"}));
  EXPECT_TRUE(launch->env.empty());
}

TEST(ContainerLaunch, RefusesWhatPodmanWouldMisread) {
  WorkloadSpec spec{"img", {"true"}, {}};
  struct Case {
    const char* name;
    std::function<void(WorkloadLimits&, ContainerOptions&, WorkloadSpec&)> change;
    const char* message;
  };
  std::vector<Case> cases = {
      {"lease id with a slash", [](auto& l, auto&, auto&) { l.lease_id = "a/b"; },
       "container: lease id 'a/b' must be letters, digits, '_', '.' or '-'"},
      {"empty lease id", [](auto& l, auto&, auto&) { l.lease_id = ""; },
       "container: lease id '' must be letters, digits, '_', '.' or '-'"},
      {"bridge network", [](auto& l, auto&, auto&) { l.network = "bridge"; },
       "workload: network must be \"none\" or \"host\", not \"bridge\""},
      {"negative memory", [](auto& l, auto&, auto&) { l.memory_mib = -1; },
       "container: cpus, memory and pids limits must not be negative"},
      {"cdi without uuids", [](auto&, auto& o, auto&) { o.cdi = true; }, "container: CDI needs the GPUs' UUIDs"},
      {"env name with '='", [](auto&, auto&, auto& s) { s.env = {{"A=B", "c"}}; }, "workload: bad environment name 'A=B'"},
      {"no image", [](auto&, auto&, auto& s) { s.image = ""; }, "container: no image"},
  };
  for (const auto& c : cases) {
    WorkloadLimits l = TwoGpus();
    ContainerOptions o;
    WorkloadSpec s = spec;
    c.change(l, o, s);
    auto launch = ContainerLaunch(s, l, o);
    ASSERT_FALSE(launch) << c.name;
    EXPECT_EQ(launch.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(launch.error().message(), c.message) << c.name;
  }
}

TEST(ContainerCommands, StopRemoveLoadImport) {
  ContainerOptions o;
  EXPECT_EQ(ContainerStopArgv(o, "rigshift-lease-l-42", std::chrono::seconds(10)),
            (Argv{"podman", "stop", "-i", "-t", "10", "rigshift-lease-l-42"}));
  EXPECT_EQ(ContainerRemoveArgv(o, "rigshift-lease-l-42"),
            (Argv{"podman", "rm", "-f", "-i", "-t", "0", "rigshift-lease-l-42"}));
  EXPECT_EQ(*ImageLoadArgv(o, "/images/trainer.tar", ImageArchive::kImage, ""),
            (Argv{"podman", "load", "-i", "/images/trainer.tar"}));
  EXPECT_EQ(*ImageLoadArgv(o, "/images/rootfs.tar", ImageArchive::kRootfs, "localhost/tiny:1"),
            (Argv{"podman", "import", "/images/rootfs.tar", "localhost/tiny:1"}));
  auto unnamed = ImageLoadArgv(o, "/images/rootfs.tar", ImageArchive::kRootfs, "");
  ASSERT_FALSE(unnamed);
  EXPECT_EQ(unnamed.error().message(), "image import: a rootfs tarball needs an image name");
}

TEST(ContainersConf, RuncCgroupfsFileEventsNoNetwork) {
  EXPECT_EQ(ContainersConfText(),
            "# Written by the rigshift agent; podman reads it through CONTAINERS_CONF.\n"
            "[containers]\n"
            "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
            "# Containers get no network unless a launch asks for the host's; never the bridge.\n"
            "netns = \"none\"\n"
            "\n[engine]\n"
            "runtime = \"runc\"\n"
            "cgroup_manager = \"cgroupfs\"\n"
            "events_logger = \"file\"\n");
  ContainersConfOptions o;
  o.init_path = "/usr/bin/catatonit";
  EXPECT_NE(ContainersConfText(o).find("init_path = \"/usr/bin/catatonit\"\n"), std::string::npos);
}

TEST(ContainersConf, WrittenIntoTheStateDir) {
  char tmpl[] = "/tmp/rigshift-conf-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::filesystem::path dir = std::filesystem::path(tmpl) / "state";  // created on the way
  auto path = WriteContainersConf(dir);
  ASSERT_TRUE(path) << path.error().ToString();
  EXPECT_EQ(*path, dir / "containers.conf");
  std::ifstream in(*path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), ContainersConfText());
  std::filesystem::remove_all(tmpl);
}

TEST(CommandLaunch, BubblewrapSandboxWithTheLeaseGpuNodes) {
  WorkloadSpec spec{"", {"python3", "serve.py"}, {{"PORT", "8000"}}};
  SandboxOptions o;
  o.bwrap = "/usr/bin/bwrap";
  o.work_dir = "/var/lib/rigshift/leases/l-42/work";
  o.hide = {"/var/lib/rigshift"};
  auto launch = CommandLaunch(spec, TwoGpus(), o);
  ASSERT_TRUE(launch) << launch.error().ToString();
  EXPECT_EQ(launch->argv,
            (Argv{"/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/",
                  "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/lib/rigshift",
                  "--dev-bind-try", "/dev/nvidiactl", "/dev/nvidiactl", "--dev-bind-try", "/dev/nvidia-uvm",
                  "/dev/nvidia-uvm", "--dev-bind-try", "/dev/nvidia-uvm-tools", "/dev/nvidia-uvm-tools",
                  "--dev-bind-try", "/dev/nvidia-modeset", "/dev/nvidia-modeset", "--dev-bind-try", "/dev/nvidia2",
                  "/dev/nvidia2", "--dev-bind-try", "/dev/nvidia3", "/dev/nvidia3", "--bind",
                  "/var/lib/rigshift/leases/l-42/work", "/var/lib/rigshift/leases/l-42/work", "--chdir",
                  "/var/lib/rigshift/leases/l-42/work", "--", "env", "--default-signal=TERM", "python3",
                  "serve.py"}));
  EXPECT_EQ(launch->env, (Env{{"PORT", "8000"}, {"CUDA_VISIBLE_DEVICES", "2,3"}, {"NVIDIA_VISIBLE_DEVICES", "2,3"},
                              {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}));
  EXPECT_TRUE(launch->ignore_sigterm);  // bwrap must outlive the command's SIGTERM
  EXPECT_EQ(launch->warning, "cpus, memory and pids limits are not enforced for a plain command (no cgroup)");
}

TEST(CommandLaunch, HostNetworkMinorsAndNoGpuNodesWithoutGpus) {
  WorkloadLimits l;
  l.network = "host";
  SandboxOptions o;
  o.bwrap = "bwrap";
  auto launch = CommandLaunch(WorkloadSpec{"", {"./job"}, {}}, l, o);
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->argv, (Argv{"bwrap", "--unshare-all", "--share-net", "--die-with-parent", "--cap-drop", "ALL",
                                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--",
                                "env", "--default-signal=TERM", "./job"}));
  EXPECT_EQ(launch->warning, "");

  l.gpu_indices = {1};
  o.gpu_minors = {4};  // index 1 is /dev/nvidia4 on this board
  launch = CommandLaunch(WorkloadSpec{"", {"./job"}, {}}, l, o);
  ASSERT_TRUE(launch);
  auto& a = launch->argv;
  EXPECT_NE(std::find(a.begin(), a.end(), "/dev/nvidia4"), a.end());
  EXPECT_EQ(std::find(a.begin(), a.end(), "/dev/nvidia1"), a.end());
}

TEST(CommandLaunch, WithoutBubblewrapRunsAsItIsAndSaysSo) {
  auto launch = CommandLaunch(WorkloadSpec{"", {"./job", "--fast"}, {}}, TwoGpus(), SandboxOptions{});
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->argv, (Argv{"./job", "--fast"}));
  EXPECT_FALSE(launch->ignore_sigterm);
  EXPECT_EQ(launch->env[0], (std::pair<std::string, std::string>{"CUDA_VISIBLE_DEVICES", "2,3"}));
  EXPECT_EQ(launch->warning,
            "bubblewrap (bwrap) not found: './job' runs without a sandbox; cpus, memory and pids limits are not "
            "enforced for a plain command (no cgroup)");
}

TEST(WorkloadLaunch, ImageChoosesPodman) {
  auto c = WorkloadLaunch(WorkloadSpec{"img", {"x"}, {}}, TwoGpus(), ContainerOptions{}, SandboxOptions{});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->argv[0], "podman");
  auto p = WorkloadLaunch(WorkloadSpec{"", {"x"}, {}}, TwoGpus(), ContainerOptions{}, SandboxOptions{});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->argv, (Argv{"x"}));
  auto e = WorkloadLaunch(WorkloadSpec{"", {}, {}}, TwoGpus(), ContainerOptions{}, SandboxOptions{});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "command: empty");
}

MinerParams Params() {
  MinerParams p;
  p.wallet = "0xWALLET";
  p.pool = "stratum+tcp://eth.pool.example:4444";
  p.worker = "rig7";
  p.devices = {0, 1, 3};
  p.api_port = 4068;
  return p;
}

TEST(MinerTemplate, PlaceholdersInsideArguments) {
  auto argv = ExpandMinerTemplate({"/opt/trex/t-rex", "-a", "kawpow", "-o", "{pool}", "-u", "{wallet}.{worker}",
                                   "-d", "{devices}", "--api-bind-http", "127.0.0.1:{api_port}", "--json={{}}"},
                                  Params());
  ASSERT_TRUE(argv) << argv.error().ToString();
  EXPECT_EQ(*argv, (Argv{"/opt/trex/t-rex", "-a", "kawpow", "-o", "stratum+tcp://eth.pool.example:4444", "-u",
                         "0xWALLET.rig7", "-d", "0,1,3", "--api-bind-http", "127.0.0.1:4068", "--json={}"}));
}

TEST(MinerTemplate, ErrorsNameThePlaceholder) {
  struct Case {
    Argv tmpl;
    const char* message;
  };
  for (const auto& c : std::vector<Case>{
           {{"m", "--user={walet}"},
            "miner template: unknown placeholder {walet} in '--user={walet}' (known: {wallet} {pool} {worker} "
            "{devices} {api_port})"},
           {{"m", "{pool"}, "miner template: unclosed '{' in '{pool'"},
           {{"m", "a}b"}, "miner template: a lone '}' in 'a}b' (write '}}')"},
           {{}, "miner template: empty"},
       }) {
    auto argv = ExpandMinerTemplate(c.tmpl, Params());
    ASSERT_FALSE(argv) << c.message;
    EXPECT_EQ(argv.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(argv.error().message(), c.message);
  }
}

TEST(MinerTemplate, ChosenByAlgorithm) {
  MinerTemplates templates = {
      {"ethash", {"lolMiner", "--algo", "ETHASH", "--pool", "{pool}", "--user", "{wallet}", "--devices", "{devices}",
                  "--apiport", "{api_port}"}},
      {"randomx", {"xmrig", "-o", "{pool}", "-u", "{wallet}", "--http-port={api_port}", "--rig-id={oops}"}},
  };
  auto eth = MinerArgv(templates, "ethash", Params());
  ASSERT_TRUE(eth);
  EXPECT_EQ(*eth, (Argv{"lolMiner", "--algo", "ETHASH", "--pool", "stratum+tcp://eth.pool.example:4444", "--user",
                        "0xWALLET", "--devices", "0,1,3", "--apiport", "4068"}));
  auto missing = MinerArgv(templates, "kawpow", Params());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "no miner command for algorithm 'kawpow' (have: ethash, randomx)");
  auto bad = MinerArgv(templates, "randomx", Params());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("randomx: miner template: unknown placeholder {oops}"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace rigshift::agent
