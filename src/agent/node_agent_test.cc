// The agent's config file: what an operator writes in /etc/rigshift/agent.toml is read as written,
// and every mistake is an error naming the key and the file (the agent's running behaviour is
// tested end to end in tests/agent_e2e_test.cc).
#include "agent/node_agent.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace rigshift::agent {
namespace {

class AgentConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("rigshift-agent-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` as a config file and reads it into a fresh config.
  Status Load(const std::string& text, AgentConfig* config) {
    const std::filesystem::path file = dir_ / "agent.toml";
    std::ofstream(file) << text;
    return LoadAgentConfig(file, config);
  }
  std::string Error(const std::string& text) {
    AgentConfig c;
    Status s = Load(text, &c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << text;
    return s.message();
  }

  std::filesystem::path dir_;
};

const char kMiner[] = "[[miner]]\ncoin = \"ETC\"\ncommand = [\"/opt/lolMiner\", \"--devices\", \"{devices}\"]\napi_port = 4068\n";

TEST_F(AgentConfigTest, AFullConfigIsReadAsWritten) {
  std::ofstream(dir_ / "agent.token") << "secret-token\n";
  AgentConfig c;
  Status s = Load("server = \"https://ctl:8443\"\ntoken_file = \"" + (dir_ / "agent.token").string() +
                      "\"\nca = \"/etc/rigshift/ca.pem\"\nnode = \"gpu-3090-1\"\nstate_dir = \"/var/lib/x\"\n"
                      "heartbeat_ms = 500\nminer_grace_ms = 1500\nnetwork = \"host\"\non_cutoff = \"stop-mining\"\n"
                      "cutoff_after_ms = 9000\nwatchdog_zero_hashrate = 5\nwatchdog_xid_growth = 2\n"
                      "reboot_command = [\"systemctl\", \"reboot\"]\nreboots_per_hour = 2\n"
                      "self_test_command = [\"nvidia-smi\", \"-i\", \"{gpu}\"]\n" +
                      std::string(kMiner) + "api = \"lolminer\"\nwallet = \"0xabc\"\npool = \"stratum+tcp://p:1\"\n"
                      "power_limit_w = 220\n",
                  &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.server, "https://ctl:8443");
  EXPECT_EQ(c.token, "secret-token");
  EXPECT_EQ(c.ca_file, "/etc/rigshift/ca.pem");
  EXPECT_EQ(c.node, "gpu-3090-1");
  EXPECT_EQ(c.state_dir, "/var/lib/x");
  EXPECT_EQ(c.heartbeat.count(), 500);
  EXPECT_EQ(c.miner_grace.count(), 1500);
  EXPECT_EQ(c.network, "host");
  EXPECT_TRUE(c.cutoff_stops_mining);
  EXPECT_EQ(c.cutoff_after.count(), 9000);
  EXPECT_EQ(c.watchdog_zero_hashrate, 5);
  EXPECT_EQ(c.watchdog_xid_growth, 2);
  EXPECT_EQ(c.reboot_command, (std::vector<std::string>{"systemctl", "reboot"}));
  EXPECT_EQ(c.reboots_per_hour, 2);
  EXPECT_EQ(c.self_test_command, (std::vector<std::string>{"nvidia-smi", "-i", "{gpu}"}));
  ASSERT_EQ(c.miners.size(), 1u);
  const MinerProfile& m = c.miners[0];
  EXPECT_EQ(m.coin, "ETC");
  EXPECT_EQ(m.command, (std::vector<std::string>{"/opt/lolMiner", "--devices", "{devices}"}));
  EXPECT_EQ(m.api, "lolminer");
  EXPECT_EQ(m.api_port, 4068);
  EXPECT_EQ(m.wallet, "0xabc");
  EXPECT_EQ(m.power_limit_w, 220);
}

TEST_F(AgentConfigTest, MistakesNameTheKeyAndTheFile) {
  const std::string file = (dir_ / "agent.toml").string();
  std::string e = Error("sever = \"http://x\"\n");
  EXPECT_NE(e.find(file), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'sever'"), std::string::npos) << e;
  EXPECT_NE(Error("on_cutoff = \"pause\"\n").find("on_cutoff must be \"keep-mining\" or \"stop-mining\""),
            std::string::npos);
  EXPECT_NE(Error("network = \"bridge\"\n").find("network must be \"none\" or \"host\""), std::string::npos);
  EXPECT_NE(Error("heartbeat_ms = -5\n").find("heartbeat_ms must be a whole number >= 0"), std::string::npos);
  EXPECT_NE(Error("heartbeat_ms = \"fast\"\n").find("heartbeat_ms"), std::string::npos);
  EXPECT_NE(Error("token_file = \"/nonexistent/agent.token\"\n").find("token_file /nonexistent/agent.token cannot be read"),
            std::string::npos);
  EXPECT_NE(Error("[[miner]]\ncommand = [\"x\"]\napi_port = 1\n").find("miner[0].coin is required"), std::string::npos);
  EXPECT_NE(Error("[[miner]]\ncoin = \"ETC\"\napi_port = 1\n").find("miner[0].command is required"), std::string::npos);
  EXPECT_NE(Error("[[miner]]\ncoin = \"ETC\"\ncommand = [\"x\"]\n").find("miner[0].api_port is required"),
            std::string::npos);
  EXPECT_NE(Error(std::string(kMiner) + "api = \"cgminer\"\n").find("miner[0].api"), std::string::npos);
  EXPECT_NE(Error(std::string(kMiner) + "walet = \"0x\"\n").find("miner[0].walet: unknown key"), std::string::npos);
  EXPECT_NE(Error(std::string(kMiner) + "api_port = 70000\n").find("api_port"), std::string::npos);
  EXPECT_NE(Error("server = \n").find(file), std::string::npos);  // a TOML syntax error
}

TEST_F(AgentConfigTest, AnAgentWithoutServerTokenOrNodeSaysWhichIsMissing) {
  AgentConfig c;
  c.state_dir = dir_ / "state";
  c.fake_devices = "1xRTX 3090";
  std::ostringstream log;
  {
    NodeAgent a(c, log);
    Status s = a.Run();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("--server is required"), std::string::npos) << s.message();
  }
  c.server = "http://127.0.0.1:1";
  {
    NodeAgent a(c, log);
    EXPECT_NE(a.Run().message().find("--token is required"), std::string::npos);
  }
  c.token = "t";
  {
    NodeAgent a(c, log);
    EXPECT_NE(a.Run().message().find("--node is required"), std::string::npos);
  }
  c.node = "n1";
  c.fake_devices = "3xNoSuchGpu";
  {
    NodeAgent a(c, log);
    Status s = a.Run();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("NoSuchGpu"), std::string::npos) << s.message();
  }
}

// Found from outside: two agents for one node overwrote each other's state file, and the miner
// one of them started ran on, unsupervised, on a tenant's GPUs.
TEST_F(AgentConfigTest, OneAgentPerStateDir) {
  AgentConfig c;
  c.server = "http://127.0.0.1:1";
  c.token = "t";
  c.node = "gpu-3090-1";
  c.state_dir = dir_ / "state";
  c.fake_devices = "1xRTX 3090";
  std::filesystem::create_directories(c.state_dir);
  int held = ::open((c.state_dir / "agent.lock").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::pwrite(held, "4242", 4, 0), 4);
  std::ostringstream log;
  NodeAgent second(c, log);
  Status s = second.Run();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("another rigshift agent (pid 4242) uses the state dir"), std::string::npos) << s.message();
  ::close(held);
}

TEST_F(AgentConfigTest, AServerUrlItCannotUseIsAnErrorAtStart) {
  AgentConfig c;
  c.server = "ftp://x";
  c.token = "t";
  c.node = "gpu-3090-1";
  c.state_dir = dir_ / "state";
  c.fake_devices = "1xRTX 3090";
  std::ostringstream log;
  NodeAgent a(c, log);
  Status s = a.Run();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--server: "), std::string::npos) << s.message();
}

}  // namespace
}  // namespace rigshift::agent
