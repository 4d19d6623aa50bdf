-- Shared by mlp_fmnist.lua and cnn_fmnist.lua: the twin of ../shared/bench/pytorch/common.py's
-- load_fmnist and train_eval_fmnist (same normalisation, batch order rule, optimizer and metrics).
-- Loaded with dofile from the scripts' own directory.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local optim = require 'optim'
local data = require 'data'

local M = {}

function M.emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

-- the process's peak resident set (VmHWM), MiB
function M.peak_rss_mib()
  local f = io.open('/proc/self/status', 'r')
  if not f then return 0 end
  local kb = f:read('a'):match('VmHWM:%s*(%d+)')
  f:close()
  return (tonumber(kb) or 0) / 1024
end

local MEAN, STD = 0.2860, 0.3530

-- split 'train' or 't10k' -> x float32 (N, 1, 28, 28) normalised, y int64 1-based labels
function M.load_fmnist(split)
  local ds = data.datasets.FashionMNIST { train = split == 'train' }
  local x = ds.data:to('float32'):div_(255):sub_(MEAN):div_(STD)
  local y = ds.targets
  -- the uint8 images are dead now (NumPy frees its array at once): collect them and
  -- hand their block back to the system instead of keeping it in the allocator's cache
  ds = nil
  collectgarbage()
  torch.empty_cache()
  return x:reshape(-1, 1, 28, 28), y
end

-- one epoch of SGD(lr 0.01, momentum 0.5) over shuffled batches of 64, then test accuracy
function M.train_eval(bench, model, x_train, y_train, x_test, y_test, batch)
  batch = batch or 64
  torch.manual_seed(0)
  local opt = optim.SGD(model:parameters(), { lr = 0.01, momentum = 0.5 })
  local n = x_train:size(1)
  local perm = torch.randperm(n)
  model:train()
  local loss
  local t0 = torch.clock()
  for i = 1, n, batch do -- 938 steps, the last of 32 samples
    local idx = perm:narrow(1, i, math.min(batch, n - i + 1))
    local xb, yb = x_train:index_select(1, idx), y_train:index_select(1, idx)
    opt:zero_grad()
    loss = F.cross_entropy(model(xb), yb)
    loss:backward()
    opt:step()
  end
  local epoch_s = torch.clock() - t0
  model:eval()
  local correct = 0
  torch.no_grad(function()
    for i = 1, x_test:size(1), 1000 do
      local m = math.min(1000, x_test:size(1) - i + 1)
      local pred = model(x_test:narrow(1, i, m)):argmax(2)
      correct = correct + pred:eq(y_test:narrow(1, i, m)):sum():item()
    end
  end)
  M.emit(bench, 'train_samples_per_s', n / epoch_s, 'samples/s')
  M.emit(bench, 'epoch_s', epoch_s, 's')
  M.emit(bench, 'last_batch_loss', loss:item(), 'nats')
  M.emit(bench, 'test_accuracy', 100 * correct / x_test:size(1), '%')
  M.emit(bench, 'peak_rss', M.peak_rss_mib(), 'MiB')
end

return M
