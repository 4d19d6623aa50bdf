-- The trainer: trains a network on Fashion-MNIST with a progress bar, prints the train
-- loss, test loss and test accuracy of each epoch, saves a checkpoint after each epoch
-- (atomically) and resumes from one, and draws the loss and accuracy curves to PNG.
--   build/th scripts/train.lua [--model mlp|cnn|resnet] [--epochs 4] [--batch-size 64]
--     [--lr 0.05] [--momentum 0.9] [--optimizer sgd|adam] [--workers 0] [--seed 1]
--     [--device cpu] [--out runs/fmnist] [--resume] [--limit N]
-- `make run` runs it with the defaults (the tutorials' residual network, SGD with cosine
-- annealing over 4 epochs).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local optim = require 'optim'
local data = require 'data'
local plot = require 'plot'

-- ---- options ----
local DEFAULTS = { model = 'resnet', epochs = 4, ['batch-size'] = 64, lr = 0.05, momentum = 0.9,
  optimizer = 'sgd', workers = 0, seed = 1, device = 'cpu', out = 'runs/fmnist', resume = false, limit = 0 }
local KINDS = { model = 'string', optimizer = 'string', device = 'string', out = 'string', resume = 'boolean',
  lr = 'number', momentum = 'number' }

local function parse(argv)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  local i = 1
  while i <= #argv do
    local name = argv[i]:match('^%-%-(.+)$')
    if not name or DEFAULTS[name] == nil then
      local names = {}
      for k in pairs(DEFAULTS) do names[#names + 1] = k end
      error(('train.lua: unknown argument %q%s'):format(argv[i], name and torch._did_you_mean(name, names) or ''), 0)
    end
    if KINDS[name] == 'boolean' then
      o[name] = true
    else
      local v = argv[i + 1]
      if v == nil then error('train.lua: --' .. name .. ' needs a value', 0) end
      if KINDS[name] == 'string' then o[name] = v
      else
        o[name] = (KINDS[name] == 'number' and tonumber(v)) or math.tointeger(tonumber(v))
        if o[name] == nil then error(('train.lua: --%s expects a number, got %q'):format(name, v), 0) end
      end
      i = i + 1
    end
    i = i + 1
  end
  return o
end

local opt = parse(arg or {})

-- ---- models (the tutorials') ----
local Residual, ResParent = torch.class('train.ResidualBlock', 'nn.Module')
function Residual:__init(c)
  ResParent.__init(self)
  self.conv1 = nn.Conv2d(c, c, 3, { padding = 1 })
  self.conv2 = nn.Conv2d(c, c, 3, { padding = 1 })
end
function Residual:forward(x)
  local y = self.conv2(F.relu(self.conv1(x)))
  return F.relu(x + y)
end

local ResNet, NetParent = torch.class('train.ResNet', 'nn.Module')
function ResNet:__init()
  NetParent.__init(self)
  self.conv1 = nn.Conv2d(1, 16, 5)
  self.rblock1 = Residual(16)
  self.conv2 = nn.Conv2d(16, 32, 5)
  self.rblock2 = Residual(32)
  self.fc = nn.Linear(512, 10)
end
function ResNet:forward(x)
  x = self.rblock1(F.max_pool2d(F.relu(self.conv1(x)), 2))
  x = self.rblock2(F.max_pool2d(F.relu(self.conv2(x)), 2))
  return self.fc(x:flatten(2))
end

local MODELS = {
  mlp = function()
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
      nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
  end,
  cnn = function()
    return nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(10, 20, 5), nn.MaxPool2d(2),
      nn.ReLU(), nn.Flatten(), nn.Linear(320, 10))
  end,
  resnet = function() return ResNet() end,
}
if not MODELS[opt.model] then error('train.lua: --model must be mlp, cnn or resnet, got ' .. opt.model, 0) end
if opt.device ~= 'cpu' then
  if not torch.cuda.is_available() then error('train.lua: --device ' .. opt.device .. ': no GPU is available', 0) end
end

-- ---- data: the whole set as tensors, normalised once ----
local MEAN, STD = 0.2860, 0.3530
local function load(train)
  local ds = data.datasets.FashionMNIST { train = train }
  local x = ds.data:to('float32'):div_(255):sub_(MEAN):div_(STD):reshape(-1, 1, 28, 28)
  local y = ds.targets
  if opt.limit > 0 and opt.limit < x:size(1) then x, y = x:narrow(1, 1, opt.limit), y:narrow(1, 1, opt.limit) end
  return data.TensorDataset(x, y)
end

torch.manual_seed(opt.seed)
local train_set, test_set = load(true), load(false)
local train_loader = data.DataLoader(train_set, { batch_size = opt['batch-size'], shuffle = true,
  num_workers = opt.workers })
local test_loader = data.DataLoader(test_set, { batch_size = 1000 })

-- ---- model, optimizer, schedule, checkpoint ----
local net = MODELS[opt.model]()
local optimizer
if opt.optimizer == 'sgd' then
  optimizer = optim.SGD(net:parameters(), { lr = opt.lr, momentum = opt.momentum })
elseif opt.optimizer == 'adam' then
  optimizer = optim.Adam(net:parameters(), { lr = opt.lr })
else
  error('train.lua: --optimizer must be sgd or adam, got ' .. opt.optimizer, 0)
end
local sched = optim.lr_scheduler.CosineAnnealingLR(optimizer, { T_max = opt.epochs * #train_loader })
local history = { train_loss = {}, test_loss = {}, test_acc = {} }
local first_epoch = 1
os.execute(('mkdir -p %q'):format(opt.out))
local ckpt_path = opt.out .. '/checkpoint.t7'

if opt.resume then
  local f = io.open(ckpt_path, 'rb')
  if not f then error('train.lua: --resume: no checkpoint at ' .. ckpt_path, 0) end
  f:close()
  local ck = torch.load(ckpt_path)
  if ck.model_name ~= opt.model then
    error(('train.lua: the checkpoint holds a %s, not a %s'):format(ck.model_name, opt.model), 0)
  end
  net:load_state_dict(ck.model)
  optimizer:load_state_dict(ck.optimizer)
  sched:load_state_dict(ck.scheduler)
  history = ck.history
  first_epoch = ck.epoch + 1
  torch.set_rng_state(ck.rng)
  print(('resumed from %s after epoch %d'):format(ckpt_path, ck.epoch))
end

local n_params = 0
for _, p in ipairs(net:parameters()) do n_params = n_params + p:numel() end
print(('Fashion-MNIST: %d train / %d test images; model %s (%d parameters); %s lr %g, batch %d, %d epochs')
  :format(#train_set, #test_set, opt.model, n_params, opt.optimizer, opt.lr, opt['batch-size'], opt.epochs))

local function evaluate()
  net:eval()
  local loss, correct, n = 0, 0, 0
  torch.no_grad(function()
    for _, batch in test_loader:iter() do
      local out = net(batch[1])
      loss = loss + F.cross_entropy(out, batch[2], { reduction = 'sum' }):item()
      correct = correct + out:argmax(2):eq(batch[2]):sum():item()
      n = n + batch[1]:size(1)
    end
  end)
  net:train()
  return loss / n, 100 * correct / n
end

for epoch = first_epoch, opt.epochs do
  net:train()
  local sum, count = 0, 0
  local nb = #train_loader
  local t0 = torch.clock()
  for i, batch in train_loader:iter() do
    optimizer:zero_grad()
    local loss = F.cross_entropy(net(batch[1]), batch[2])
    loss:backward()
    optimizer:step()
    sched:step()
    local l = loss:item()
    sum, count = sum + l * batch[1]:size(1), count + batch[1]:size(1)
    torch.progress(i, nb, { label = ('epoch %d/%d'):format(epoch, opt.epochs), unit = 'img',
      unit_scale = opt['batch-size'], fields = { { 'loss', sum / count } } })
  end
  local train_s = torch.clock() - t0
  local test_loss, acc = evaluate()
  history.train_loss[epoch], history.test_loss[epoch], history.test_acc[epoch] = sum / count, test_loss, acc
  print(('epoch %d: train loss %.4f, test loss %.4f, test accuracy %.2f%% (%.1f s, %.0f img/s)'):format(epoch,
    sum / count, test_loss, acc, train_s, count / train_s))
  torch.save(ckpt_path, { model_name = opt.model, model = net:state_dict(), optimizer = optimizer:state_dict(),
    scheduler = sched:state_dict(), history = history, epoch = epoch, rng = torch.get_rng_state() })
  local epochs = {}
  for e = 1, epoch do epochs[e] = e end
  plot.lines { path = opt.out .. '/curves.png', title = 'Fashion-MNIST, ' .. opt.model, panels = {
    { title = 'loss', xlabel = 'epoch', series = { { name = 'train', x = epochs, y = history.train_loss },
      { name = 'test', x = epochs, y = history.test_loss } } },
    { title = 'test accuracy (%)', xlabel = 'epoch', series = { { name = 'test', x = epochs, y = history.test_acc } } },
  } }
end
print(('checkpoint: %s, curves: %s/curves.png'):format(ckpt_path, opt.out))
