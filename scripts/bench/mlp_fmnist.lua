-- Fashion-MNIST MLP 784-512-256-128-64-10 (ReLU), SGD lr 0.01 momentum 0.5, batch 64, one
-- epoch. Twin of ../shared/bench/pytorch/mlp_fmnist.py.
local torch = require 'torch'
local nn = require 'nn'
local B = dofile((arg and arg[0] or 'scripts/bench/mlp_fmnist.lua'):match('^(.*/)') .. 'fmnist_common.lua')

torch.manual_seed(0)
local x_train, y_train = B.load_fmnist('train')
local x_test, y_test = B.load_fmnist('t10k')
x_train, x_test = x_train:reshape(-1, 784):contiguous(), x_test:reshape(-1, 784):contiguous()

local model = nn.Sequential(
  nn.Linear(784, 512), nn.ReLU(),
  nn.Linear(512, 256), nn.ReLU(),
  nn.Linear(256, 128), nn.ReLU(),
  nn.Linear(128, 64), nn.ReLU(),
  nn.Linear(64, 10))
B.train_eval('mlp_fmnist', model, x_train, y_train, x_test, y_test)
