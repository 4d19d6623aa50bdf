-- GRU classifier training step: Embedding(128,100) -> 2-layer bidirectional GRU(100,100)
-- -> Linear(200,18) on the last layer's final states (forward ++ backward); Adam lr 1e-3.
-- Synthetic batch: seq_len 16, batch 256 (time-major). ms per training step, median of 20
-- after 3 warm-ups. Twin of ../shared/bench/pytorch/gru_classifier.py (same model, metrics, JSON lines).
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

local SEQ, BATCH, VOCAB, EMB, HID, CLASSES = 16, 256, 128, 100, 100, 18
torch.manual_seed(0)

local GRUClassifier, Module = torch.class('bench.GRUClassifier', 'nn.Module')
function GRUClassifier:__init()
  Module.__init(self)
  self.emb = nn.Embedding(VOCAB, EMB)
  self.gru = nn.GRU(EMB, HID, { num_layers = 2, bidirectional = true })
  self.fc = nn.Linear(2 * HID, CLASSES)
end
function GRUClassifier:forward(x) -- x: (SEQ, BATCH) int64, 1-based
  local _, h_n = self.gru(self.emb(x)) -- h_n: (2 layers * 2 directions, BATCH, HID)
  return self.fc(torch.cat({ h_n[3], h_n[4] }, 2)) -- last layer: forward ++ backward
end

local model = GRUClassifier()
local x = torch.randint(2, VOCAB + 1, { SEQ, BATCH }) -- PyTorch's randint(1, VOCAB), 1-based
local y = torch.randint(1, CLASSES + 1, { BATCH })
local loss_fn = nn.CrossEntropyLoss()
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })

local function step()
  opt:zero_grad()
  local loss = loss_fn(model(x), y)
  loss:backward()
  opt:step()
  return loss
end

for _ = 1, 3 do step() end
local times, loss = {}, nil
for i = 1, 20 do
  local t0 = torch.clock()
  loss = step()
  times[i] = torch.clock() - t0
end
table.sort(times)
emit('gru_classifier', 'train_step_ms', (times[10] + times[11]) / 2 * 1e3, 'ms')
emit('gru_classifier', 'train_step_min_ms', times[1] * 1e3, 'ms')
emit('gru_classifier', 'final_loss', loss:item(), 'nats')
