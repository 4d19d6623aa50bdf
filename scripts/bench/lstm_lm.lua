-- Word-LM training step: Embedding(1000,256) -> LSTM(256,256) -> Linear(256,1000); SGD lr 1.
-- Synthetic batch: seq_len 35, batch 20 (time-major), zero initial state, no clipping.
-- ms per training step, median of 20 after 3 warm-ups. Twin of
-- ../shared/bench/pytorch/lstm_lm.py (same model, metrics, JSON lines).
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

local SEQ, BATCH, VOCAB, HID = 35, 20, 1000, 256
torch.manual_seed(0)

local LSTMLM, Module = torch.class('bench.LSTMLM', 'nn.Module')
function LSTMLM:__init()
  Module.__init(self)
  self.emb = nn.Embedding(VOCAB, HID)
  self.lstm = nn.LSTM(HID, HID, { num_layers = 1 })
  self.fc = nn.Linear(HID, VOCAB)
end
function LSTMLM:forward(x) -- x: (SEQ, BATCH) int64, 1-based -> logits (SEQ, BATCH, VOCAB)
  local out = self.lstm(self.emb(x))
  return self.fc(out)
end

local model = LSTMLM()
local x = torch.randint(1, VOCAB + 1, { SEQ, BATCH })
local y = torch.randint(1, VOCAB + 1, { SEQ, BATCH })
local loss_fn = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), { lr = 1.0 })

local function step()
  opt:zero_grad()
  local loss = loss_fn(model(x):view(-1, VOCAB), y:view(-1))
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
emit('lstm_lm', 'train_step_ms', (times[10] + times[11]) / 2 * 1e3, 'ms')
emit('lstm_lm', 'train_step_min_ms', times[1] * 1e3, 'ms')
emit('lstm_lm', 'final_loss', loss:item(), 'nats')
